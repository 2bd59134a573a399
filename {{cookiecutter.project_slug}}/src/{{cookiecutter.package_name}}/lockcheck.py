"""Check that a pipeline run reproduced dvc.lock: a stale or non-deterministic lock fails CI."""

import json
import subprocess
from pathlib import Path

import yaml

from .errors import PipelineError

LOCK = Path("dvc.lock")
SNAPSHOT = Path(".dvc/tmp/dvc.lock.before.json")


def snapshot(lock: Path = LOCK, saved: Path = SNAPSHOT) -> None:
    """Remember dvc.lock as it is before a run (or that there is none)."""
    saved.parent.mkdir(parents=True, exist_ok=True)
    before = lock.read_text() if lock.exists() else None
    saved.write_text(json.dumps({"lock": before}))


def changed_stages(before: str, after: str) -> list[str]:
    """Names of the stages whose entries differ between two dvc.lock texts."""
    old = (yaml.safe_load(before) or {}).get("stages", {})
    new = (yaml.safe_load(after) or {}).get("stages", {})
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


def committed(lock: Path) -> str | None:
    """The lock as the last commit holds it; None when git has none (or there is no git)."""
    try:
        shown = subprocess.run(
            ["git", "-C", str(lock.parent), "show", f"HEAD:./{lock.name}"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    return shown.stdout if shown.returncode == 0 else None


def unchanged(lock: Path, after: str) -> str:
    """What a run that repeated the lock proves: it reproduces the committed results only
    when the lock it repeated is the committed one."""
    base = committed(lock)
    if base is None:
        return (
            f"{lock} is unchanged since the last run, but no commit holds it, so there are no "
            "committed results to compare with - commit it (`git add --all && git commit -m "
            "'Run the pipeline'`)"
        )
    stages = changed_stages(base, after)
    if stages:
        return (
            f"{lock} is unchanged since the last run, but differs from the committed {lock} in "
            f"stage(s) {', '.join(stages)} - review `git diff {lock}` and commit it"
        )
    return f"{lock} is unchanged: the pipeline reproduces the committed results"


def verify(lock: Path = LOCK, saved: Path = SNAPSHOT) -> str:
    """Compare dvc.lock with the snapshot; return what to tell the user or raise."""
    if not saved.exists():
        raise PipelineError(
            f"no snapshot of {lock} from before a run - run `make repro` before `make verify`"
        )
    if not lock.exists():
        raise PipelineError(f"{lock} is missing after the run - run `make repro`")
    before = json.loads(saved.read_text())["lock"]
    after = lock.read_text()
    if before is None:
        return (
            f"{lock} is new: commit it with the files git tracks beside it "
            "(`git add --all && git commit -m 'Run the pipeline'`)"
        )
    stages = changed_stages(before, after)
    if stages:
        raise PipelineError(
            f"{lock} changed in stage(s) {', '.join(stages)} when the pipeline ran: the "
            f"committed {lock} was stale (code, params or data changed without `make repro`) "
            "or a stage is not deterministic - run `make repro`, review `git diff "
            f"{lock}` and commit it"
        )
    return unchanged(lock, after)


def snapshot_main(argv: list[str]) -> None:
    snapshot()
    print(f"remembered {LOCK} as it is before the run")


def verify_main(argv: list[str]) -> None:
    print(verify())
