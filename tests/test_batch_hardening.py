"""Slow tier: `make predict` killed midway (kill -9) leaves OUT as one complete run wrote
it, never a mix of two runs' parts, and `make monitor` reads that run's rows; the next
complete run replaces it whole.
"""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import FAST_INSTALL, HIDDEN, bake, run

pytestmark = pytest.mark.slow
FILES = 40  # the new batch's files: the local engine scores and writes a part per file


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The default bake, installed, its pipeline run and its model deployed."""
    root = bake(tmp_path_factory.mktemp("batch"))
    run("make install && make repro && make deploy", root)
    return root


def batch(project: Path, folder: Path, files: int, copies: int) -> int:
    """`files` Parquet files of the test rows, each `copies` times over; returns the rows."""
    target = yaml.safe_load((project / "params.yaml").read_text())["data"]["target"]
    rows = pd.read_parquet(project / "data/processed/test.parquet").drop(columns=[target])
    rows = pd.concat([rows] * copies, ignore_index=True)
    folder.mkdir()
    for number in range(files):
        rows.to_parquet(folder / f"part-{number}.parquet", index=False)
    return files * len(rows)


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def parts_since(out: Path, started: float) -> int:
    """Parts written since `started`, in OUT or in a folder staged beside it."""
    written = 0
    for folder in (out, *out.parent.glob(f".{out.name}.*")):
        for part in folder.glob("part-*.parquet"):
            with contextlib.suppress(FileNotFoundError):  # swapped or removed meanwhile
                written += part.stat().st_mtime >= started
    return written


def kill_after(command: list[str], cwd: Path, out: Path, parts: int, log: Path) -> None:
    """Start command in its own process group; once it has written `parts` parts, kill -9
    the whole group (make and python), as an OOM killer or a node's loss would."""
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN} | FAST_INSTALL
    started = time.time() - 0.5  # file times lag the clock by a tick; earlier runs' are older
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while parts_since(out, started) < parts:
            if process.poll() is not None or time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                pytest.fail(f"predict ended or stalled before {parts} parts:\n{log.read_text()}")
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_make_predict_killed_midway_leaves_one_runs_output(project: Path, tmp_path: Path) -> None:
    old_rows = batch(project, tmp_path / "old", files=3, copies=1)
    new_rows = batch(project, tmp_path / "new", files=FILES, copies=40)
    out = tmp_path / "scored"
    run(f"make predict DATA={tmp_path / 'old'} OUT={out}", project)
    old = contents(out)
    assert len(old) == 3

    command = ["make", "predict", f"DATA={tmp_path / 'new'}", f"OUT={out}"]
    for parts in (1, FILES // 2):
        time.sleep(1)  # parts_since tells this run's parts from earlier runs' by their times
        kill_after(command, project, out, parts, tmp_path / f"killed-{parts}.log")
        assert contents(out) == old, f"OUT changed by a run killed after {parts} parts"

    monitored = run(f".venv/bin/python -m my_ml_project monitor {out}", project, check=False)
    assert monitored.returncode in (0, 1), monitored.stdout + monitored.stderr
    assert f"({old_rows} rows)" in monitored.stdout, monitored.stdout

    run(f"make predict DATA={tmp_path / 'new'} OUT={out}", project)
    assert len(contents(out)) == FILES
    assert len(pd.read_parquet(out)) == new_rows
