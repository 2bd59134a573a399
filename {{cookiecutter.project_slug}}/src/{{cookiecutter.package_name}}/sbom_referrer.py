"""`sbom-attach`: push the SBOM beside an image in its registry, as an OCI artifact whose
`subject` is the image's manifest.

A registry with the OCI 1.1 referrers API lists it among the image's referrers (artifact
type application/vnd.cyclonedx+json); on one without, its tag, `sha256-<digest>.sbom` (the
name cosign gives an attached SBOM), finds it. oras-py speaks the registry protocol.
Credentials come from REGISTRY_USERNAME and REGISTRY_PASSWORD; REGISTRY_INSECURE=1 speaks
plain HTTP (a registry on loopback).
"""

import argparse
import os
import re
import tempfile
from pathlib import Path

from .errors import PipelineError

MEDIA_TYPE = "application/vnd.cyclonedx+json"
MANIFESTS = ", ".join(
    f"application/vnd.{kind}"
    for kind in (
        "oci.image.manifest.v1+json",
        "oci.image.index.v1+json",
        "docker.distribution.manifest.v2+json",
        "docker.distribution.manifest.list.v2+json",
    )
)
# registry[:port]/name[:tag][@sha256:...], as `docker push` takes it; one that names no
# registry host (no dot, colon or localhost before the first slash) is refused: the push
# would go to whichever default a library picks.
REFERENCE = re.compile(
    r"(?P<host>(?:[a-z0-9.-]+\.[a-z0-9.-]+|localhost|[a-z0-9.-]+:\d+)(?::\d+)?)"
    r"/(?P<name>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


def parsed(image: str) -> re.Match:
    """The image reference's parts; PipelineError naming what a valid one looks like."""
    match = REFERENCE.fullmatch(image)
    if not match or not (match["tag"] or match["digest"]):
        raise PipelineError(
            f"IMAGE {image!r} is no image reference - give registry/name:tag or "
            "registry/name@sha256:<digest>, e.g. ghcr.io/owner/project:<commit>"
        )
    return match


def attach(bom: Path, image: str) -> str:
    """Push `bom` as a referrer of `image`'s manifest; returns the referrer's reference."""
    import requests  # oras-py's transport

    parts = parsed(image)
    if not bom.is_file():
        raise PipelineError(f"{bom} is missing - run `make sbom` first")
    insecure = os.environ.get("REGISTRY_INSECURE") == "1"
    scheme = "http" if insecure else "https"
    try:
        # Any answer at the API's root (401 included) is a registry; oras-py would retry an
        # unreachable one for minutes.
        requests.get(f"{scheme}://{parts['host']}/v2/", timeout=10)
        return pushed(bom, image, parts, insecure)
    except requests.RequestException as error:
        raise PipelineError(f"cannot reach the registry {parts['host']}: {error}") from None


def pushed(bom: Path, image: str, parts: re.Match, insecure: bool) -> str:
    import oras.client  # only this command needs it (the dev group)
    import oras.oci

    client = oras.client.OrasClient(hostname=parts["host"], insecure=insecure)
    if os.environ.get("REGISTRY_USERNAME"):
        client.login(
            username=os.environ["REGISTRY_USERNAME"],
            password=os.environ.get("REGISTRY_PASSWORD", ""),
            hostname=parts["host"],
        )
    # The subject is the manifest as the registry stores it: its digest and size from the
    # registry itself, never from a re-serialised copy.
    container = client.get_container(image)
    head = client.do_request(
        f"{client.prefix}://{container.manifest_url()}", "HEAD", headers={"Accept": MANIFESTS}
    )
    if head.status_code != 200:
        raise PipelineError(f"the registry has no image {image} (HTTP {head.status_code})")
    digest = head.headers["Docker-Content-Digest"]
    subject = oras.oci.Subject(
        mediaType=head.headers["Content-Type"],
        digest=digest,
        size=int(head.headers["Content-Length"]),
    )
    referrer = f"{parts['host']}/{parts['name']}:{digest.replace(':', '-')}.sbom"
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch, "config.json")
        config.write_text("{}")
        pushed = client.push(
            files=[f"{bom.resolve()}:{MEDIA_TYPE}"],
            target=referrer,
            subject=subject,
            manifest_config=f"{config}:{MEDIA_TYPE}",
            disable_path_validation=True,  # the BOM lies outside the working folder's check
        )
    if pushed.status_code not in (200, 201):
        raise PipelineError(f"the registry refused the SBOM (HTTP {pushed.status_code})")
    return referrer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sbom-attach", description=__doc__.split("\n\n")[0])
    parser.add_argument("image", help="registry/name:tag or registry/name@sha256:<digest>")
    parser.add_argument("--sbom", type=Path, default=Path("reports/sbom.cdx.json"))
    args = parser.parse_args(argv)
    print(f"attached {args.sbom} to {args.image} as {attach(args.sbom, args.image)}")
