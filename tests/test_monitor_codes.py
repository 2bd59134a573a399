"""Fast tier: the monitor's exit codes (0, 1 drift, 2 unusable input) reach whoever acts on
them. make exits 2 whenever a recipe fails, so they go around `make monitor`."""

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import HIDDEN, documentation

CI_FILES = {
    "github": ".github/workflows/ci.yml",
    "gitlab": ".gitlab-ci.yml",
    "azure": "azure-pipelines.yml",
}
# A stand-in for the project's python and dvc: the monitor exits $MONITOR_EXIT, the other
# commands print what they were asked to run.
FAKE_TOOL = """#!/bin/sh
case " $* " in *" monitor "*) exit "$MONITOR_EXIT" ;; esac
echo "ran: $*"
"""


def drift_check(project: Path, folder: Path, monitor_exit: int) -> subprocess.CompletedProcess:
    """`make drift-check` of the project's Makefile with the monitor exiting monitor_exit."""
    (folder / "Makefile").write_text((project / "Makefile").read_text())
    (folder / "reports").mkdir()
    for name in ("drift.md", "compare.md"):  # what monitor and compare would write
        (folder / "reports" / name).write_text(f"## {name}\n")
    (folder / "fake/bin").mkdir(parents=True)
    for name in ("python", "dvc"):
        (folder / "fake/bin" / name).write_text(FAKE_TOOL)
        (folder / "fake/bin" / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    return subprocess.run(
        ["make", "--no-print-directory", "drift-check", "VENV=fake"],
        cwd=folder,
        env=env | {"MONITOR_EXIT": str(monitor_exit)},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("monitor_exit", "passes", "retrains"),
    [(0, True, False), (1, True, True), (2, False, False)],
    ids=["no-drift", "drift", "unusable-input"],
)
def test_drift_check_retrains_on_drift_and_fails_on_unusable_input(
    bakery, tmp_path, monitor_exit, passes, retrains
) -> None:
    """Scheduled CI runs drift-check: drift (1) retrains and writes the pull request's body;
    unusable input (2) fails the run, with nothing retrained."""
    result = drift_check(bakery(), tmp_path, monitor_exit)
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    assert ("ran: -m my_ml_project compare" in result.stdout) is retrains, result.stdout
    assert (tmp_path / "reports/pull-request.md").exists() is retrains


def test_the_readme_and_make_help_give_the_command_with_the_exit_codes(bakery) -> None:
    project = bakery()
    direct = ".venv/bin/python -m my_ml_project monitor DATA"
    readme = documentation(project)
    assert "make exits 2 whenever a recipe fails, so `make monitor` exits 2 on drift" in readme
    assert f"`{direct}` exits 0, 1 or 2" in readme
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    shown = subprocess.run(["make", "help"], cwd=project, env=env, capture_output=True, text=True)
    [line] = [line for line in shown.stdout.splitlines() if line.split()[0] == "monitor"]
    assert f"exit codes 0/1/2 only from {direct}" in line


@pytest.mark.parametrize("provider", CI_FILES)
def test_ci_monitors_through_drift_check_never_make_monitor(bakery, provider) -> None:
    text = (bakery(ci_provider=provider) / CI_FILES[provider]).read_text()
    assert "make drift-check" in text
    assert "make monitor" not in text
