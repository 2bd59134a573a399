import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.lockcheck import snapshot, verify

pytestmark = pytest.mark.machinery

LOCK = """\
schema: '2.0'
stages:
  split:
    outs:
    - md5: a
  train:
    outs:
    - md5: {}
"""


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "dvc.lock", tmp_path / "snapshot.json"


def test_new_lock_passes_and_asks_for_commit(paths) -> None:
    lock, saved = paths
    snapshot(lock, saved)
    lock.write_text(LOCK.format("1"))
    assert "commit it" in verify(lock, saved)


def commit(lock: Path) -> None:
    """Commit the lock in a git repository of its own folder."""
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", lock.name],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "Run"],
    ):
        subprocess.run(["git", *command], cwd=lock.parent, check=True, capture_output=True)


def test_unchanged_committed_lock_passes(paths) -> None:
    lock, saved = paths
    lock.write_text(LOCK.format("1"))
    commit(lock)
    snapshot(lock, saved)
    reproduced = f"{lock} is unchanged: the pipeline reproduces the committed results"
    assert verify(lock, saved) == reproduced


def test_an_unchanged_lock_no_commit_holds_passes_and_asks_for_commit(paths) -> None:
    """A second run before the first commit: nothing committed was reproduced."""
    lock, saved = paths
    lock.write_text(LOCK.format("1"))
    snapshot(lock, saved)
    message = verify(lock, saved)
    assert "no commit holds it" in message and "commit it" in message
    assert "reproduces" not in message


def test_an_unchanged_lock_that_differs_from_the_commit_names_the_stages(paths) -> None:
    """A run repeated an uncommitted lock (params changed, `make repro`, `make ci`)."""
    lock, saved = paths
    lock.write_text(LOCK.format("1"))
    commit(lock)
    lock.write_text(LOCK.format("2"))
    snapshot(lock, saved)
    message = verify(lock, saved)
    assert "differs from the committed" in message and "in stage(s) train" in message
    assert "reproduces" not in message


def test_changed_lock_names_the_stage(paths) -> None:
    lock, saved = paths
    lock.write_text(LOCK.format("1"))
    snapshot(lock, saved)
    lock.write_text(LOCK.format("2"))
    with pytest.raises(PipelineError, match=r"dvc\.lock changed in stage\(s\) train when"):
        verify(lock, saved)


def test_verify_without_snapshot_says_what_to_run(paths) -> None:
    with pytest.raises(PipelineError, match="make repro"):
        verify(*paths)
