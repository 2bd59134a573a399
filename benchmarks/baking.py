"""What the benchmark scripts share: the default project, baked and installed or reused."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent


def find_uv() -> str:
    """uv as the Makefiles find it: $UV, else on PATH, else where `make install` puts it."""
    uv = os.environ.get("UV") or shutil.which("uv") or str(TEMPLATE / ".tools" / "bin" / "uv")
    if not shutil.which(uv):
        sys.exit(
            f"uv not found (tried $UV, PATH and {uv}): run `make install` in the template, "
            "which puts it in .tools/, or set UV"
        )
    return uv


def environment(venv: Path) -> dict[str, str]:
    """This environment with the project's venv first on PATH (as if activated) and uv known."""
    # PYTHONDONTWRITEBYTECODE (set on some CI machines, rarely in a user's shell) would make
    # every process compile the project's modules again: measure what users run.
    hidden = ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", VIRTUAL_ENV=str(venv))
    env["UV"] = find_uv()
    return env


def project(scratch: Path, reuse: Path | None = None) -> tuple[Path, str]:
    """The default project's folder and package: `reuse`, baked and installed already, or a
    new bake in scratch, installed here."""
    if reuse:
        root = reuse.resolve()
        if not (root / ".venv" / "bin" / "python").exists():
            sys.exit(f"{root} has no .venv: run `make install` in it first")
    else:
        root = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(scratch)))
        print(f"baked {root}; installing", flush=True)
        install = subprocess.run(
            ["make", "install"], cwd=root, env=environment(root / ".venv"),
            capture_output=True, text=True,
        )  # fmt: skip
        if install.returncode:
            sys.exit(f"`make install` failed in {root}:\n{install.stdout}{install.stderr}")
    answers = json.loads((root / ".cruft.json").read_text())["context"]["cookiecutter"]
    return root, answers["package_name"]
