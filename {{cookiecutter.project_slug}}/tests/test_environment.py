"""Stage commands restart in the project's .venv when started with another Python."""

import importlib.metadata
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import environment

pytestmark = pytest.mark.machinery


class Restarted(Exception):
    pass


@pytest.fixture
def outside(monkeypatch) -> None:
    """A Python without the project installed, whose restart raises Restarted(python)."""

    def missing(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    def execv(path, args):
        raise Restarted(path)

    monkeypatch.setattr(environment.importlib.metadata, "distribution", missing)
    monkeypatch.setattr(environment.os, "execv", execv)
    monkeypatch.setenv(environment.RESTARTED, "")  # unset, and removed again afterwards
    monkeypatch.delenv("DVC_ROOT", raising=False)


def make_venv(project: Path) -> Path:
    python = project / ".venv/bin/python"
    python.parent.mkdir(parents=True)
    python.touch()
    return python


def test_the_projects_venv_runs_the_command(tmp_path: Path, outside) -> None:
    python = make_venv(tmp_path)
    with pytest.raises(Restarted) as restarted:
        environment.ensure(tmp_path)
    assert restarted.value.args == (python,)


def test_an_experiments_copy_uses_the_projects_venv(tmp_path, outside, monkeypatch) -> None:
    """dvc exp run --temp works in a copy without .venv; DVC_ROOT names the project."""
    python = make_venv(tmp_path / "project")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "project"))
    with pytest.raises(Restarted) as restarted:
        environment.ensure(tmp_path / "project/.dvc/tmp/exps/tmpcopy")
    assert restarted.value.args == (python,)


def test_without_a_venv_it_says_to_make_install(tmp_path: Path, outside) -> None:
    with pytest.raises(SystemExit, match="run `make install`"):
        environment.ensure(tmp_path)
