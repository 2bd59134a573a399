"""The command line: stages are found in stages/, every other command resolves."""

import importlib
import os
import subprocess
import sys

import pytest

from {{ cookiecutter.package_name }} import cli, stages

from .project_data import PROJECT

pytestmark = pytest.mark.machinery

STAGE = """
def main(argv):
    print("extra ran with", argv)
"""


def test_a_module_in_stages_is_a_command(tmp_path, monkeypatch, capsys) -> None:
    """Adding a stage needs no entry in the command line: its module is enough."""
    (tmp_path / "extra.py").write_text(STAGE)
    monkeypatch.setattr(stages, "__path__", [*stages.__path__, str(tmp_path)])
    assert "extra" in stages.names()
    cli.run("extra", ["--out", "x"])
    assert "extra ran with ['--out', 'x']" in capsys.readouterr().out
    sys.modules.pop(f"{stages.__name__}.extra", None)


def test_the_pipeline_stages_are_listed() -> None:
    assert {"ingest", "validate", "split", "train", "evaluate", "profile"} <= set(stages.names())


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_command_resolves_to_a_function(command: str) -> None:
    module, function = cli.COMMANDS[command][0].split(":")
    assert callable(getattr(importlib.import_module(f"{cli.__package__}.{module}"), function))


def test_an_unknown_command_prints_usage_and_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.run("trian", [])
    assert exit.value.code == 2
    assert "pipeline stages" in capsys.readouterr().err


# A stand-in for the project's python: it prints the arguments make gave it.
ECHO = '#!/bin/sh\necho "$@"\n'


@pytest.mark.parametrize(
    ("target", "variables", "command"),
    [
        ("promote", ["FROM=staging", "TO=-h"], "promote -- staging -h"),
        ("promote", ["FROM=-h", "TO=b", "VERSION=-h"], "promote --version=-h -- -h b"),
        ("rollback", ["VERSION=-h"], "rollback --env=production -- -h"),
        ("rollback", ["DEPLOY_ENV=--help"], "rollback --env=--help"),
        ("deploy", ["DEPLOY_ENV=-h"], "deploy --env=-h"),
        ("version", ["DEPLOY_ENV=-h"], "models --served-by=-h"),
        ("smoke", ["URL=-h"], "smoke --env=production --url=-h"),
        ("monitor", ["DATA=-h"], "monitor -- -h"),
        ("predict", ["DATA=-h", "OUT=--help"], "predict --out=--help --env=production -- -h"),
        ("compare", ["BASE=-h", "HEAD=-x"], "compare --base=-h --head=-x --out"),
    ],
)
def test_make_hands_values_over_as_values_never_as_options(
    tmp_path, target: str, variables: list[str], command: str
) -> None:
    """`make promote TO=-h` printed help and exited 0 having done nothing: make variables
    reach the commands as --option=value or after --, where the command's own checks
    refuse what is not a name (test_a_value_that_looks_like_an_option_is_refused)."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/python").write_text(ECHO)
    (tmp_path / "bin/python").chmod(0o755)
    make = ["make", "--no-print-directory", "-f", str(PROJECT / "Makefile"), f"VENV={tmp_path}"]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    result = subprocess.run(
        [*make, target, *variables],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert f"-m {cli.__package__} {command}" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["promote", "--", "staging", "-h"], "TO: '-h' is not an environment name"),
        (["promote", "--version=-h", "--", "staging", "b"], "VERSION: '-h' is not a version id"),
        (["rollback", "--env=production", "--", "-h"], "rollback: '-h' is not a version id"),
        (["deploy", "--env=-h"], "DEPLOY_ENV: '-h' is not an environment name"),
        (["compare", "--base=-h", "--out=x", "--plots=y"], "BASE='-h' looks like an option"),
    ],
)
def test_a_value_that_looks_like_an_option_is_refused_in_one_line(
    tmp_path, monkeypatch, capsys, argv: list[str], said: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODEL_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.setattr(sys, "argv", ["prog", *argv])
    (tmp_path / "params.yaml").write_text((PROJECT / "params.yaml").read_text())
    (tmp_path / "dvc.yaml").write_text((PROJECT / "dvc.yaml").read_text())
    assert cli.main() != 0
    refused = capsys.readouterr().err.strip()
    assert said in refused and len(refused.splitlines()) == 1, refused


@pytest.mark.parametrize("command", ["promote", "rollback", "predict", "monitor"])
def test_help_asked_for_directly_is_still_given(capsys, command: str) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.run(command, ["--help"])
    assert exit.value.code == 0 and "usage:" in capsys.readouterr().out
