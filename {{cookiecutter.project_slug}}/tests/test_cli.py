"""The command line: stages are found in stages/, every other command resolves."""

import importlib
import sys

import pytest

from {{ cookiecutter.package_name }} import cli, stages

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
