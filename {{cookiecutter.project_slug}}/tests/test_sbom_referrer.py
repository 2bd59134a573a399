"""`make sbom-attach`: which image references it takes, and what it says when it cannot."""

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.sbom_referrer import attach, parsed

pytestmark = pytest.mark.machinery

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("image", "host", "name"),
    [
        ("ghcr.io/owner/project:0123abc", "ghcr.io", "owner/project"),
        (f"127.0.0.1:5000/team/server@{DIGEST}", "127.0.0.1:5000", "team/server"),
        ("localhost/server:v1", "localhost", "server"),
        ("registry:5000/a/b.c:latest", "registry:5000", "a/b.c"),
    ],
)
def test_a_reference_names_its_registry_and_repository(image: str, host: str, name: str) -> None:
    parts = parsed(image)
    assert (parts["host"], parts["name"]) == (host, name)


@pytest.mark.parametrize(
    "image",
    ["-h", "project:v1", "owner/project:v1", "ghcr.io/owner/project", "ghcr.io/o/p:v1;rm -rf /"],
)
def test_anything_else_is_refused_saying_what_a_reference_looks_like(image: str) -> None:
    with pytest.raises(PipelineError, match="registry/name:tag or registry/name@sha256"):
        parsed(image)


def test_no_sbom_yet_says_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="run `make sbom` first"):
        attach(tmp_path / "sbom.cdx.json", "ghcr.io/owner/project:v1")


def test_an_unreachable_registry_is_one_line(tmp_path: Path) -> None:
    bom = tmp_path / "sbom.cdx.json"
    bom.write_text("{}")
    with pytest.raises(PipelineError, match=r"cannot reach the registry 127\.0\.0\.1:9"):
        attach(bom, "127.0.0.1:9/owner/project:v1")
