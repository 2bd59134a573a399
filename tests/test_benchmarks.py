"""The benchmarks still run: each script at its --smoke size, on one baked project.

Their numbers mean nothing at that size; what is checked is that every script gets to the
end and prints its ratio lines.
"""

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import TEMPLATE, bake, run

pytestmark = pytest.mark.slow
NUMBER = r"\d+\.\d+"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default bake, installed; the pipeline benchmark puts its params.yaml back."""
    root = bake(tmp_path_factory.mktemp("bench"))
    run("make install", root)
    return root


def benchmark(script: str, project: Path, scratch: Path, *options: str) -> str:
    """Run a benchmark script at its smoke size on the project; return what it printed."""
    command = [sys.executable, f"benchmarks/{script}", "--smoke", "--project", str(project)]
    # Its scratch folders go to pytest's temporary folder, which pytest cleans up.
    output = run(shlex.join([*command, *options]), TEMPLATE, env={"TMPDIR": str(scratch)}).stdout
    print(output)  # shown with -rP or when a check fails
    return output


def ratio_lines(pattern: str, output: str, count: int) -> None:
    found = re.findall(pattern, output, re.MULTILINE)
    assert len(found) == count, f"expected {count} lines like {pattern!r} in:\n{output}"


def need_wrk() -> None:
    if shutil.which("wrk") is None:
        message = "wrk is not installed (Debian: apt-get install wrk; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_pipeline(project: Path, tmp_path: Path) -> None:
    output = benchmark("pipeline.py", project, tmp_path)
    ratio_lines(r"^  \S+ +\d+ MiB$", output, 1)
    bare = rf"^  dvc repro -f +{NUMBER} s   bare +{NUMBER} s   ratio {NUMBER} \(target <= 1\.3\)$"
    ratio_lines(bare, output, 1)
    noop = rf"^  this pipeline +{NUMBER} s   toy +{NUMBER} s   ratio {NUMBER} \(target <= 1\.3\)$"
    ratio_lines(noop, output, 1)


def test_serve(project: Path, tmp_path: Path) -> None:
    need_wrk()
    output = benchmark("serve.py", project, tmp_path, "--mlserver-env", str(tmp_path / "mls"))
    ratio_lines(rf"^  this server +forest  rows=1    c=8 +{NUMBER} req/s", output, 1)
    ratio_lines(rf"^  mlserver w=1 batch=on +forest  rows=1    c=8 +{NUMBER} req/s", output, 1)
    # SERVE_WORKERS=2 against MLServer with parallel_workers=2
    ratio_lines(rf"^  this server w=2 +forest  rows=1    c=8 +{NUMBER} req/s", output, 1)
    ratio_lines(rf"^  mlserver w=2 batch=on +forest  rows=1    c=8 +{NUMBER} req/s", output, 1)
    throughput = (
        rf"^  forest  rows=1    c=8   throughput x *{NUMBER} \(target >= 1\.5\)"
        rf"   p99 x *{NUMBER} \(target <= 1\)   p99 {NUMBER} vs {NUMBER} ms, w=(1|2) batch=on"
        r"  (met|MISSED)$"
    )
    ratio_lines(throughput, output, 2)  # one worker each, then two
    ratio_lines(r"vs the Starlette constant route: \d+% \(target >= 40%\)$", output, 1)
    ratio_lines(rf"p99 during hot swaps vs steady: x{NUMBER} \(target <= 2\)$", output, 1)
    metrics = rf"^  forest  rows=1    c=8   throughput +[+-]{NUMBER}% lower with metrics "
    ratio_lines(metrics + r"\(target <= 5%\)  (met|MISSED)$", output, 1)


def test_prediction_log(project: Path, tmp_path: Path) -> None:
    need_wrk()
    output = benchmark("prediction_log.py", project, tmp_path)
    ratio_lines(r"^  \d+ log lines for \d+ answered requests", output, 1)
    ratio = rf"^  rows=\d+ +c=\d+ +{NUMBER} -> +{NUMBER} req/s: x{NUMBER} \(target >= 0\.90\)$"
    ratio_lines(ratio, output, 2)


@pytest.fixture(scope="module")
def dask_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compute=dask bake, installed, for the scale benchmark's Dask path."""
    root = bake(tmp_path_factory.mktemp("bench-dask"), compute="dask")
    run("make install", root)
    return root


def test_scale(project: Path, dask_project: Path, tmp_path: Path) -> None:
    output = benchmark("scale.py", project, tmp_path, "--project-dask", str(dask_project))
    for step in ("ingest", "validate", "split", "train", "evaluate", "profile", "deploy"):
        ratio_lines(rf"^  {step} +{NUMBER} +\d+ +\d+ ", output, 2)  # dask, then local
    ratio_lines(rf"^  predict +{NUMBER} .*  4,000 rows written$", output, 2)
    verdict = r"  (met|MISSED)"
    largest = r"largest process \d+ MB \(\w+, [\w-]+\) \(target <= 2000 MB\)"
    ratio_lines(rf"^  \(a\) dask, 4,000 rows: every step completed; {largest}{verdict}$", output, 1)
    times = rf"dask +{NUMBER} s / local +{NUMBER} s = x{NUMBER} \(target <= 1\.5\)"
    ratio_lines(rf"^  \(b\) 4,000 rows, \w+ +{times}{verdict}$", output, 9)  # 8 steps, total
    rate = r"[\d,]+ rows/s per core \(target >= 200,000\)"
    predict = rf"^  \(c\) make predict, (dask|local), 4,000 rows in {NUMBER} s on [12] core\(s\)"
    ratio_lines(rf"{predict}: {rate}{verdict}; [\d,]+ rows per CPU-second$", output, 2)
    peaks = rf"\d+ MB at 4,000 rows / \d+ MB at 4,000 rows = x{NUMBER} \(target <= 1\.2\)"
    ratio_lines(rf"^  \(d\) dask largest process: {peaks}{verdict}$", output, 1)
    worker = r"largest worker \d+ MB, the stage's process \d+ MB$"
    ratio_lines(rf"^  train\.max_rows +[\d,]+: +{NUMBER} s, {worker}", output, 2)
    capacity = r"(bytes per training row, so about [\d,]+ rows within 2 GB|no estimate)"
    ratio_lines(rf"^  (a worker|the stage's process): .*{capacity}", output, 2)
