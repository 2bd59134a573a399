"""make sbom: uv's CycloneDX export, cut down to what is installed here."""

import json
import os
import shutil
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import sbom

pytestmark = pytest.mark.machinery

BOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "metadata": {"component": {"name": "project", "bom-ref": "project-1"}},
    "components": [
        {"name": "scikit-learn", "version": "1.7.2", "bom-ref": "scikit-learn-1"},
        {"name": "scikit-learn", "version": "1.9.1", "bom-ref": "scikit-learn-2"},
        {"name": "Typing_Extensions", "version": "4.0", "bom-ref": "typing-extensions-1"},
        {"name": "colorama", "version": "0.4", "bom-ref": "colorama-1"},
    ],
    "dependencies": [
        {"ref": "project-1", "dependsOn": ["scikit-learn-1", "scikit-learn-2"]},
        {"ref": "scikit-learn-2", "dependsOn": ["typing-extensions-1", "colorama-1"]},
        {"ref": "colorama-1", "dependsOn": []},
    ],
}


def test_only_the_installed_version_of_each_package_stays() -> None:
    installed = {"scikit-learn": "1.9.1", "typing-extensions": "4.0"}
    bom = sbom.installed_only(BOM, installed)
    assert [(c["name"], c["version"]) for c in bom["components"]] == [
        ("scikit-learn", "1.9.1"),
        ("Typing_Extensions", "4.0"),
    ]
    assert bom["dependencies"] == [
        {"ref": "project-1", "dependsOn": ["scikit-learn-2"]},
        {"ref": "scikit-learn-2", "dependsOn": ["typing-extensions-1"]},
    ]


def test_the_environments_packages_at_their_installed_versions(tmp_path) -> None:
    # make exports UV, the uv it installs with; else one on PATH.
    uv = os.environ.get("UV") or shutil.which("uv") or ".tools/bin/uv"
    if not Path(uv).exists():
        pytest.skip(f"no uv at {uv} (make install puts one in .tools/)")
    out = tmp_path / "sbom.json"
    sbom.main(["--uv", uv, "--out", str(out)])
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5"
    found = {sbom.canonical(c["name"]): c["version"] for c in bom["components"]}
    installed = sbom.installed()
    for name in ("scikit-learn", "dvc", "pandas"):
        assert found[name] == installed[name]
    assert len(found) == len(bom["components"]), "one version of each package"


def test_a_uv_that_cannot_export_is_named(tmp_path) -> None:
    fake = tmp_path / "uv"
    fake.write_text("#!/bin/sh\necho 'unknown format' >&2\nexit 2\n")
    fake.chmod(0o755)
    with pytest.raises(sbom.PipelineError, match="uv export failed: unknown format"):
        sbom.main(["--uv", str(fake), "--out", str(tmp_path / "sbom.json")])
    assert not (tmp_path / "sbom.json").exists()
