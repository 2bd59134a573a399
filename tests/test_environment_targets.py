"""Fast tier: the environment targets (deploy, promote, rollback, smoke) pass DEPLOY_ENV,
FROM, TO, VERSION and URL to the command as data, one argument each and never as an option
(--option=value, or after --), and say what is missing."""

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import HIDDEN
from .test_bake import FAKE_TOOL, HOSTILE_VALUES


def fake_project(project: Path, folder: Path) -> dict:
    """The project's make files, with python and dvc replaced by FAKE_TOOL."""
    for name in ("Makefile", "serve.mk"):
        if (project / name).exists():
            (folder / name).write_text((project / name).read_text())
    (folder / "fake/bin").mkdir(parents=True)
    for name in ("python", "dvc"):
        (folder / "fake/bin" / name).write_text(FAKE_TOOL)
        (folder / "fake/bin" / name).chmod(0o755)
    given = (*HIDDEN, "DEPLOY_ENV", "FROM", "TO", "URL", "VERSION")  # none from this shell
    return {k: v for k, v in os.environ.items() if k not in given}


def make(folder: Path, env: dict, *arguments: str) -> subprocess.CompletedProcess:
    command = ["make", "--no-print-directory", *arguments, "VENV=fake"]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)


def arguments(result: subprocess.CompletedProcess) -> list[str]:
    return [line.removeprefix("arg:") for line in result.stdout.splitlines() if line[:4] == "arg:"]


@pytest.mark.parametrize(("given", "expected"), HOSTILE_VALUES.values(), ids=HOSTILE_VALUES)
def test_environment_variables_reach_commands_as_data(bakery, tmp_path, given, expected) -> None:
    env = fake_project(bakery(), tmp_path)
    runs = {
        "deploy": ([f"DEPLOY_ENV={given}"], ["deploy", f"--env={expected}"]),
        "promote": (
            [f"FROM={given}", f"TO={given}", f"VERSION={given}"],
            ["promote", f"--version={expected}", "--", expected, expected],
        ),
        "rollback": (
            [f"DEPLOY_ENV={given}", f"VERSION={given}"],
            ["rollback", f"--env={expected}", "--", expected],
        ),
        "smoke": (
            [f"DEPLOY_ENV={given}", f"URL={given}"],
            ["smoke", f"--env={expected}", f"--url={expected}"],
        ),
        "version": ([f"DEPLOY_ENV={given}"], ["models", f"--served-by={expected}"]),
        "predict": (
            [f"DATA={given}", f"OUT={given}", f"DEPLOY_ENV={given}"],
            ["predict", f"--out={expected}", f"--env={expected}", "--", expected],
        ),
    }
    for target, (variables, wanted) in runs.items():
        result = make(tmp_path, env, target, *variables)
        echoed = (result.stdout + result.stderr).splitlines()
        assert not [line for line in echoed if line.startswith("INJECTED")], "\n".join(echoed)
        assert arguments(result)[2:] == wanted, f"{target}: {arguments(result)}"


@pytest.mark.parametrize("serving", ["fastapi", "none"])
def test_environment_targets_default_and_refuse(bakery, tmp_path, serving) -> None:
    """production unless DEPLOY_ENV says otherwise; no VERSION or URL: none passed; promote
    without FROM or TO stops with a line saying how to call it."""
    env = fake_project(bakery(serving=serving), tmp_path)
    assert arguments(make(tmp_path, env, "deploy"))[2:] == ["deploy", "--env=production"]
    staging = {**env, "DEPLOY_ENV": "staging"}
    assert arguments(make(tmp_path, staging, "rollback"))[2:] == ["rollback", "--env=staging"]
    assert arguments(make(tmp_path, env, "smoke"))[2:] == ["smoke", "--env=production"]
    for given in ([], ["FROM=staging"], ["TO=production"]):
        refused = make(tmp_path, env, "promote", *given)
        assert refused.returncode == 2 and arguments(refused) == []
        wanted = "ERROR: name both environments: make promote FROM=staging TO=production"
        assert wanted in refused.stderr
    listed = make(tmp_path, env, "help").stdout
    assert "promote" in listed and "smoke" in listed
