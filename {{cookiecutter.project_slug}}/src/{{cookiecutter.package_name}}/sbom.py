"""`sbom`: a software bill of materials, CycloneDX 1.5 JSON, of the packages installed here.

uv exports the lock as CycloneDX (`uv export --format cyclonedx1.5`, the extras named); the
lock resolves for every supported Python, so a package may appear at several versions: only
the version installed in this environment stays. The project itself is the BOM's subject.
"""

import argparse
import importlib.metadata
import json
import re
import subprocess
import tempfile
from pathlib import Path

from .errors import PipelineError


def canonical(name: str) -> str:
    """A distribution's name as the lock and the index compare it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """Each distribution installed in this environment, by canonical name: its version."""
    return {
        canonical(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }


def exported(uv: str, extras: list[str]) -> dict:
    """uv's CycloneDX export of uv.lock, without the dev group; PipelineError saying why not."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "sbom.json"
        command = [uv, "export", "--format", "cyclonedx1.5", "--frozen", "--no-dev", "-q"]
        command += [f"--extra={extra}" for extra in extras] + ["-o", str(out)]
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as error:
            raise PipelineError(f"cannot run uv ({uv}): {error.strerror or error}") from None
        if done.returncode != 0:
            raise PipelineError(
                f"uv export failed: {done.stderr.strip()[-400:]} - uv 0.9 or newer exports "
                "CycloneDX (`make install` puts one in .tools/ when none is on PATH)"
            )
        return json.loads(out.read_text())


def installed_only(bom: dict, versions: dict[str, str]) -> dict:
    """The BOM with only the components installed here, at the version installed."""
    kept = [
        component
        for component in bom.get("components", [])
        if versions.get(canonical(component["name"])) == component.get("version")
    ]
    references = {component["bom-ref"] for component in kept if "bom-ref" in component}
    subject = bom.get("metadata", {}).get("component", {}).get("bom-ref")
    dependencies = [
        {**entry, "dependsOn": [ref for ref in entry.get("dependsOn", []) if ref in references]}
        for entry in bom.get("dependencies", [])
        if entry.get("ref") in references or entry.get("ref") == subject
    ]
    return {**bom, "components": kept, "dependencies": dependencies}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sbom", description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", default="uv", help="the uv to export with")
    parser.add_argument("--extra", action="append", default=[], help="an extra installed here")
    parser.add_argument("--out", type=Path, default=Path("reports/sbom.cdx.json"))
    args = parser.parse_args(argv)
    bom = installed_only(exported(args.uv, args.extra), installed())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".partial")
    partial.write_text(json.dumps(bom, indent=2) + "\n")
    partial.replace(args.out)
    print(f"wrote {args.out}: {len(bom['components'])} packages, CycloneDX 1.5")
