from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.lockcheck import snapshot, verify

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


def test_unchanged_lock_passes(paths) -> None:
    lock, saved = paths
    lock.write_text(LOCK.format("1"))
    snapshot(lock, saved)
    assert "unchanged" in verify(lock, saved)


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
