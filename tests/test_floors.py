"""Slow tier: the generated project works with its dependencies at their declared floors.

uv's lowest-direct resolution installs every direct dependency at the lowest version its
pyproject allows (and what those pull in as new as they allow): the unit tests must pass and
dvc must load the pipeline. A floor below the first release that works fails here, as
pandera>=0.22 did (no pandera.pandas) and dvc>=3.59 did (it breaks with pathspec 1).
"""

import os
import re
import shutil

import pytest

from .conftest import TEMPLATE, bake, run

pytestmark = pytest.mark.slow
# The uv the Makefiles use; `make test` exports it as UV.
UV = os.environ.get("UV") or shutil.which("uv") or str(TEMPLATE / ".tools/bin/uv")
CHECKED = ("dvc", "pandas", "pandera")  # the resolution really took these floors


def release(version: str) -> tuple[int, ...]:
    """'0.28' and '0.28.0' alike: a plain release version without its trailing zeros."""
    parts = [int(part) for part in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def test_project_works_at_its_dependency_floors(tmp_path) -> None:
    project = bake(tmp_path)
    pyproject = (project / "pyproject.toml").read_text()
    # Not --locked: the lowest-direct resolution replaces this bake's uv.lock.
    run(f"{UV} sync --resolution lowest-direct", project)
    for name in CHECKED:
        floor = re.search(rf'"{name}>=([\d.]+)"', pyproject).group(1)
        shown = run(f"{UV} pip show --python .venv/bin/python {name}", project).stdout
        installed = re.search(r"^Version: (\S+)$", shown, re.MULTILINE).group(1)
        assert release(installed) == release(floor), f"{name} {installed} is not its floor {floor}"
    run(".venv/bin/dvc dag", project)  # dvc reads dvc.yaml and its ignore rules
    run(".venv/bin/pytest -q -x", project)
