"""Slow tier: a package name other than the slug's installs, imports and passes `make ci`."""

import zipfile
from pathlib import Path

import pytest

from .conftest import bake, run

pytestmark = pytest.mark.slow  # make test keeps a module on one worker (--dist loadscope)


def test_package_name_unlike_the_slug_installs_and_passes_ci(tmp_path: Path) -> None:
    """churn-model with package churn: the wheel ships src/churn, which imports and runs CI."""
    project = bake(tmp_path, project_slug="churn-model", package_name="churn")
    assert project.name == "churn-model"
    assert sorted(p.name for p in (project / "src").iterdir()) == ["churn"]

    run("make install", project)
    where = run(".venv/bin/python -c 'import churn; print(churn.__file__)'", project).stdout
    assert Path(where.strip()) == project / "src" / "churn" / "__init__.py"
    result = run("make ci", project)
    assert "deploy check passed" in result.stdout

    # The built wheel, not just the editable install, holds the package under its own name.
    run('"${UV:-$(command -v uv || echo .tools/bin/uv)}" build --wheel --out-dir dist', project)
    (wheel,) = (project / "dist").glob("churn_model-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "churn/__init__.py" in names
    assert not any(name.startswith(("src/", "churn_model/")) for name in names), names
