"""The pipeline, `make deploy` and `make predict` at 10 million rows: the Dask path against
the local path, time and memory of every process, side by side in one run (issue 12).

    .venv/bin/python benchmarks/scale.py [--rows 10000000] [--small-rows 1000000]
        [--max-rows 200000] [--trees 20] [--local-large] [--data FOLDER]
        [--project-dask PATH] [--project-local PATH]
    .venv/bin/python benchmarks/scale.py --smoke [--project-dask PATH] [--project PATH]

Data: scale_data.py writes --rows rows (and --small-rows rows, the same generator) of 14
numeric and 6 categorical columns with about 5% missing, and a 0/1 label a logistic model
draws from them, as Parquet files of 100,000 rows (100 files at 10M rows, 10 at 1M): the
partitions stay the same size as rows grow. --data keeps the datasets there between runs.

Projects: a compute=dask bake and a compute=local bake, installed with `make install` (or
reused: --project-dask, --project-local or, as in the other benchmarks, --project; their
params.yaml and data/schema.yaml are put back at the end). params.yaml: data.source the
dataset folder, data.target `label`, train.max_rows --max-rows (the same at both sizes, so
at 1M rows too the training set is a sample), and a random forest of --trees trees (the
template's default is 200) with min_samples_leaf 20, on both paths.

Dask path: this script starts `dask scheduler` on 127.0.0.1 and two `dask worker`
processes (one process, one thread, --memory-limit 2GB each) from the project's venv, and
sets DASK_SCHEDULER_ADDRESS: the issue's 2 workers x 2 GB, with every process visible. Each
stage of dvc.yaml runs in turn, by its command (ingest, validate, split, train, evaluate,
profile; their outputs removed first, as DVC does; DVC's hashing and caching is not
timed), then `make deploy` (to a registry in the scratch folder) and `make predict
DATA=<dataset> OUT=<folder>`. For each: wall time, and
the peak RSS of the step's own process tree (its largest process), the scheduler and each
worker (worker and nanny; a worker restarted by its nanny is counted), and the machine's
1-minute load average as the step ended (on a shared machine, read times with it). Sizes:
--rows and --small-rows. Then `train` again at half of --max-rows on the --rows split, for
how large a training set one worker, and the stage's process, take within 2 GB (a straight
line through the two peaks).

Local path: the same steps on --small-rows rows; on --rows rows only with --local-large.

Memory figures are MB (10^6 bytes), as Dask's "2GB" is 2 * 10^9 bytes. Targets, printed
with met or MISSED: (a) the Dask path completes every step at --rows with no process above
2 GB; (b) at --small-rows, Dask time / local time per step and in total at most 1.5;
(c) `make predict` scores at least 200,000 rows per second per core (cores: the Dask
path's 2 worker threads, the local path's 1 process; rows per CPU-second beside it);
(d) the Dask path's largest process at --rows within 1.2x of its largest at --small-rows.

--smoke is the template's check that this script still runs (tests/test_benchmarks.py),
its numbers mean nothing: one size, 4,000 rows in files of 1,000 (the Dask path runs once
and stands for both sizes), 5 trees, max_rows 2,000, and a deploy gate of 0.5.

The full run here (2 cores shared with other jobs' tests, load average 2.4 to 8) took 12.5
minutes with --local-large: Dask at 10M rows 5.7, at 1M 1.3, local at 1M 1.0 and at 10M
4.0, the second train 0.4; writing the 10M-row dataset (550 MB) the first time takes
about 50 s more. At load 5 to 13 the run without --local-large took 14 minutes.
"""

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from cookiecutter.main import cookiecutter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import baking  # noqa: E402
import scale_data  # noqa: E402
from process_memory import Usage, Watcher  # noqa: E402

LIMIT = 2 * 10**9  # each worker's --memory-limit, and the most any process may hold
WORKERS = 2
STAGES = ("ingest", "validate", "split", "train", "evaluate", "profile")


@dataclass
class Step:
    """One measured command: its wall time and the memory and CPU of every process."""

    name: str
    seconds: float
    usage: Usage
    failed: bool = False
    rows: int | None = None  # rows predict wrote
    load: float = 0.0  # the machine's 1-minute load average as the step ended

    @property
    def largest(self) -> tuple[str, int]:
        return self.usage.largest() if self.usage.peak else ("-", 0)


@dataclass
class Run:
    """The steps of one path on one dataset."""

    path: str  # dask or local
    rows: int
    steps: list[Step] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        names = [step.name for step in self.steps if not step.failed]
        return names == [*STAGES, "deploy", "predict"]

    def step(self, name: str) -> Step | None:
        return next((step for step in self.steps if step.name == name), None)

    def largest(self) -> tuple[str, str, int]:
        """The step and role of the largest process, and its peak RSS."""
        best = max(self.steps, key=lambda step: step.largest[1])
        role, peak = best.largest
        return best.name, role, peak


class Project:
    """A baked, installed project: run its commands in its environment, watched."""

    def __init__(self, root: Path, scratch: Path, watcher: Watcher) -> None:
        self.root = root
        self.scratch = scratch
        self.watcher = watcher
        self.env = baking.environment(root / ".venv")
        answers = json.loads((root / ".cruft.json").read_text())["context"]["cookiecutter"]
        self.package = answers["package_name"]
        self.compute = answers.get("compute")

    def output(self, command: str) -> str:
        result = subprocess.run(
            command, shell=True, cwd=self.root, env=self.env, capture_output=True, text=True
        )
        if result.returncode:
            sys.exit(f"`{command}` failed in {self.root}:\n{result.stdout}{result.stderr}")
        return result.stdout

    def measure(self, name: str, command: str, env: dict[str, str], log: Path) -> Step:
        """Run a command in its own process group; time it and watch its process tree."""
        with log.open("w") as out, self.watcher.window() as usage:
            start = time.perf_counter()
            process = subprocess.Popen(
                command, shell=True, cwd=self.root, env={**self.env, **env},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            self.watcher.watch("step", process.pid)
            code = process.wait()
            seconds = time.perf_counter() - start
        self.watcher.forget("step")
        if code:
            tail = log.read_text()[-2500:]
            print(f"  {name} FAILED (exit {code}) - the end of {log}:\n{tail}", flush=True)
        return Step(name, seconds, usage, failed=code != 0, load=os.getloadavg()[0])

    def stage_outputs(self) -> dict[str, list[Path]]:
        """Each stage's outputs in dvc.yaml, which DVC removes before it runs the stage
        (persistent ones aside): a Dask stage writes a folder of parts, and parts left
        from a larger dataset would be read with the new ones."""
        listing = (
            "import json, os; from dvc.repo import Repo; repo = Repo('.'); print(json.dumps("
            "{s.name: [os.path.relpath(o.fs_path, repo.root_dir) for o in s.outs "
            "if not o.persist] for s in repo.index.stages if s.cmd}))"
        )
        outputs = json.loads(self.output(f"python -c {shlex.quote(listing)}"))
        return {stage: [self.root / path for path in paths] for stage, paths in outputs.items()}

    def stage_commands(self) -> dict[str, str]:
        """Each stage's command line from dvc.yaml, resolved by DVC (bare_pipeline.py)."""
        script = shlex.quote(str(HERE / "bare_pipeline.py"))
        plan = json.loads(self.output(f"python {script} {self.package} --plan-only"))
        commands = {stage["name"]: " && ".join(stage["cmd"]) for stage in plan}
        missing = [stage for stage in STAGES if stage not in commands]
        if missing:
            sys.exit(f"{self.root}/dvc.yaml has no stage {', '.join(missing)}")
        return commands


def bake(scratch: Path, compute: str) -> Path:
    """A fresh bake with compute=<compute>, installed with `make install`."""
    output = scratch / f"bake-{compute}"
    root = Path(
        cookiecutter(
            str(baking.TEMPLATE), no_input=True, output_dir=str(output),
            extra_context={"compute": compute},
        )
    )  # fmt: skip
    print(f"baked {root} (compute={compute}); installing", flush=True)
    install = subprocess.run(
        ["make", "install"], cwd=root, env=baking.environment(root / ".venv"),
        capture_output=True, text=True,
    )  # fmt: skip
    if install.returncode:
        sys.exit(f"`make install` failed in {root}:\n{install.stdout}{install.stderr}")
    return root


def reused(root: Path, compute: str) -> Path:
    root = root.resolve()
    if not (root / ".venv" / "bin" / "python").exists():
        sys.exit(f"{root} has no .venv: run `make install` in it first")
    answers = json.loads((root / ".cruft.json").read_text())["context"]["cookiecutter"]
    if answers.get("compute", "local") != compute:
        sys.exit(f"{root} was baked with compute={answers.get('compute')}, not {compute}")
    return root


def dataset(folder: Path, rows: int, file_rows: int) -> Path:
    """The synthetic dataset of `rows` rows, written unless the folder holds it already."""
    path = folder / f"rows-{rows}-files-{file_rows}"
    done = path / "_complete"
    if not done.exists():
        shutil.rmtree(path, ignore_errors=True)
        start = time.perf_counter()
        parts = scale_data.write(rows, path, file_rows)
        done.write_text("")
        print(
            f"wrote {rows:,} rows in {parts} files to {path} in {time.perf_counter() - start:.0f} s"
        )
    return path


def files_in(path: Path) -> int:
    return len(list(path.glob("*.parquet")))


@contextlib.contextmanager
def kept(*files: Path) -> Iterator[None]:
    """Put these files back as they were (or absent) at the end."""
    saved = {path: path.read_bytes() if path.exists() else None for path in files}
    try:
        yield
    finally:
        for path, content in saved.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)


def set_params(root: Path, source: Path, args: argparse.Namespace, max_rows: int) -> None:
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["data"] = {"source": str(source), "target": scale_data.TARGET}
    params["train"]["estimator"] = "random_forest"
    params["train"]["max_rows"] = max_rows
    params["train"]["random_forest"] = {"n_estimators": args.trees, "min_samples_leaf": 20}
    if args.smoke:
        params["deploy"]["threshold"] = 0.5
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@contextlib.contextmanager
def dask_cluster(project: Project, scratch: Path) -> Iterator[str]:
    """A scheduler and WORKERS single-thread workers of LIMIT bytes each, on 127.0.0.1,
    watched as roles scheduler, worker-1, ...; yields the scheduler's address."""
    dask = project.root / ".venv" / "bin" / "dask"
    if not dask.exists():
        sys.exit(f"{dask} is missing: is {project.root} a compute=dask bake, installed?")
    info = scratch / "scheduler.json"
    info.unlink(missing_ok=True)
    processes: list[subprocess.Popen] = []

    def start(role: str, *arguments: str) -> None:
        log = (scratch / f"{role}.log").open("w")
        process = subprocess.Popen(
            [str(dask), *arguments], cwd=project.root, env=project.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        processes.append(process)
        project.watcher.watch(role, process.pid)

    try:
        start(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
            "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(info),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        for number in range(1, WORKERS + 1):
            start(
                f"worker-{number}", "worker", address, "--nworkers", "1", "--nthreads", "1",
                "--memory-limit", "2GB", "--host", "127.0.0.1",
                "--dashboard-address", "127.0.0.1:0",
                "--local-directory", str(scratch / f"worker-{number}"),
            )  # fmt: skip
        wait = (
            f"from distributed import Client; Client({address!r}).wait_for_workers({WORKERS}, 60)"
        )
        project.output(f"python -c {shlex.quote(wait)}")
        print(f"dask cluster at {address}: {WORKERS} workers x 1 thread, 2GB each", flush=True)
        yield address
    finally:
        for role in ("scheduler", *(f"worker-{n}" for n in range(1, WORKERS + 1))):
            project.watcher.forget(role)
        for process in reversed(processes):  # workers first, then the scheduler
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def rows_in(folder: Path) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in folder.rglob("*.parquet"))


def run_path(
    project: Project, data: Path, rows: int, args: argparse.Namespace, env: dict[str, str]
) -> Run:
    """Every stage, deploy and predict on one dataset; stops at the first failure."""
    run = Run(project.compute or "local", rows)
    label = f"{run.path}-{rows}"
    logs = project.scratch / "logs"
    logs.mkdir(exist_ok=True)
    set_params(project.root, data, args, args.max_rows)
    (project.root / "data" / "schema.yaml").unlink(missing_ok=True)  # inferred afresh
    out = project.scratch / f"predictions-{label}"
    commands = {
        **project.stage_commands(),
        "deploy": "make deploy",
        "predict": f"make predict DATA={shlex.quote(str(data))} OUT={shlex.quote(str(out))}",
    }
    env = {**env, "MODEL_REGISTRY": str(project.scratch / f"registry-{label}")}
    print(f"\n## {run.path} path, {rows:,} rows in {files_in(data)} files", flush=True)
    print(header(), flush=True)
    outputs = project.stage_outputs()
    for name in [*STAGES, "deploy", "predict"]:
        for path in [*outputs.get(name, []), out]:
            remove(path)
        step = project.measure(name, commands[name], env, logs / f"{label}-{name}.log")
        if name == "predict" and not step.failed:
            step.rows = rows_in(out)
            step.failed = step.rows != rows  # every row read is scored
            shutil.rmtree(out)
        run.steps.append(step)
        print(line(step), flush=True)
        if step.failed:
            break
    print(total_line(run), flush=True)
    return run


ROLES = ("step", "scheduler", "worker-1", "worker-2")


def header() -> str:
    return (
        f"  {'step':<9} {'wall s':>8} {'step MB':>8} {'procs':>5} "
        f"{'sched MB':>8} {'w1 MB':>7} {'w2 MB':>7} {'largest MB':>10} {'load':>5}  notes"
    )


def megabytes(value: int | None) -> str:
    return f"{value / 1e6:.0f}" if value else "-"


def line(step: Step) -> str:
    peak = step.usage.peak
    notes = []
    restarts = sum(step.usage.born.get(f"worker-{n}", 0) for n in range(1, WORKERS + 1))
    if restarts:
        notes.append(f"{restarts} worker process(es) restarted")
    role, largest = step.largest
    if largest > LIMIT:
        notes.append(f"{role} above 2 GB")
    if step.rows is not None:
        notes.append(f"{step.rows:,} rows written")
    if step.failed:
        notes.append("FAILED")
    return (
        f"  {step.name:<9} {step.seconds:8.1f} {megabytes(peak.get('step')):>8} "
        f"{step.usage.processes.get('step', 0):>5} {megabytes(peak.get('scheduler')):>8} "
        f"{megabytes(peak.get('worker-1')):>7} {megabytes(peak.get('worker-2')):>7} "
        f"{megabytes(largest):>10} {step.load:5.1f}  {'; '.join(notes)}"
    )


def total_line(run: Run) -> str:
    seconds = sum(step.seconds for step in run.steps)
    name, role, peak = run.largest()
    return f"  {'total':<9} {seconds:8.1f}   largest process: {megabytes(peak)} MB ({name}, {role})"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(large: Run, small: Run, local_small: Run, local_large: Run | None, train: dict) -> None:
    print("\n## targets", flush=True)
    # (a)
    name, role, peak = large.largest()
    done = "every step completed" if large.complete else "NOT every step completed"
    print(
        f"  (a) dask, {large.rows:,} rows: {done}; largest process {megabytes(peak)} MB "
        f"({name}, {role}) (target <= {LIMIT / 1e6:.0f} MB)  "
        f"{verdict(large.complete and peak <= LIMIT)}"
    )
    # (b)
    for stage in [*STAGES, "deploy", "predict", "total"]:
        if stage == "total":
            dask = sum(s.seconds for s in small.steps)
            local = sum(s.seconds for s in local_small.steps)
            ok = small.complete and local_small.complete
        else:
            a, b = small.step(stage), local_small.step(stage)
            ok = bool(a and b and not a.failed and not b.failed)
            dask, local = (a.seconds if a else 0.0), (b.seconds if b else 0.0)
        if not ok or not local:
            print(f"  (b) {small.rows:,} rows, {stage:<8} did not complete on both paths  MISSED")
            continue
        print(
            f"  (b) {small.rows:,} rows, {stage:<8} dask {dask:7.1f} s / local {local:7.1f} s "
            f"= x{dask / local:.2f} (target <= 1.5)  {verdict(dask / local <= 1.5)}"
        )
    # (c)
    runs = [large, *([small] if small is not large else []), local_small, local_large]
    for run in runs:
        if run is None:
            continue
        step = run.step("predict")
        cores = WORKERS if run.path == "dask" else 1
        if step is None or step.failed:
            print(f"  (c) make predict, {run.path}, {run.rows:,} rows: did not run  MISSED")
            continue
        rate = step.rows / step.seconds / cores
        cpu = sum(step.usage.cpu.values())
        print(
            f"  (c) make predict, {run.path}, {step.rows:,} rows in {step.seconds:.1f} s on "
            f"{cores} core(s): {rate:,.0f} rows/s per core (target >= 200,000)  "
            f"{verdict(rate >= 200_000)}; {step.rows / cpu:,.0f} rows per CPU-second"
        )
    # (d)
    _, _, big = large.largest()
    _, _, little = small.largest()
    ratio = big / little if little else float("nan")
    print(
        f"  (d) dask largest process: {megabytes(big)} MB at {large.rows:,} rows / "
        f"{megabytes(little)} MB at {small.rows:,} rows = x{ratio:.2f} (target <= 1.2)  "
        f"{verdict(large.complete and small.complete and ratio <= 1.2)}"
    )
    if local_large is None:
        print(f"  local path at {large.rows:,} rows: skipped (--local-large runs it)")
    if train:
        print_train_capacity(train)


def print_train_capacity(train: dict[int, Step]) -> None:
    """A straight line through the train stage's peaks at two sizes, up to 2 GB: for the
    largest worker (the trees' fits) and for the stage's process (it holds the sample)."""
    print("\n## training set one worker takes within 2 GB (train stage, dask path)")
    points: dict[str, list[tuple[int, int]]] = {"a worker": [], "the stage's process": []}
    for rows, step in sorted(train.items()):
        worker = max(step.usage.peak.get(f"worker-{n}", 0) for n in range(1, WORKERS + 1))
        client = step.usage.peak.get("step", 0)
        points["a worker"].append((rows, worker))
        points["the stage's process"].append((rows, client))
        print(
            f"  train.max_rows {rows:>9,}: {step.seconds:6.1f} s, largest worker "
            f"{megabytes(worker)} MB, the stage's process {megabytes(client)} MB"
            + ("  FAILED" if step.failed else "")
        )
    for who, ((r1, m1), (r2, m2)) in points.items():
        slope = (m2 - m1) / (r2 - r1)
        if slope > 0:
            fits = r2 + (LIMIT - m2) / slope
            print(
                f"  {who}: {slope:,.0f} bytes per training row, so about {fits:,.0f} rows "
                "within 2 GB (a straight line through the two)"
            )
        else:
            print(f"  {who}: its peak did not grow with the rows, no estimate")


def measure_train(project: Project, data: Path, args, env: dict[str, str]) -> dict[int, Step]:
    """train again at half of --max-rows (the split of `data` is in place)."""
    half = args.max_rows // 2
    set_params(project.root, data, args, half)
    command = project.stage_commands()["train"]
    for path in project.stage_outputs()["train"]:
        remove(path)
    log = project.scratch / "logs" / "train-half.log"
    return {half: project.measure("train", command, env, log)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="the large dataset's rows")
    parser.add_argument("--small-rows", type=int, default=1_000_000, help="the small one's")
    parser.add_argument("--max-rows", type=int, default=200_000, help="train.max_rows")
    parser.add_argument("--trees", type=int, default=20, help="the random forest's trees")
    parser.add_argument("--file-rows", type=int, default=100_000, help="rows per data file")
    parser.add_argument("--local-large", action="store_true", help="local path at --rows too")
    parser.add_argument("--data", type=Path, help="keep the datasets here between runs")
    parser.add_argument("--project-dask", type=Path, help="a compute=dask bake, installed")
    parser.add_argument(
        "--project-local", "--project", type=Path, help="a compute=local bake, installed"
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does it still work?")
    args = parser.parse_args()
    if args.smoke:  # one size: the Dask path's run stands for both
        args.rows = args.small_rows = 4_000
        args.file_rows, args.trees, args.max_rows = 1_000, 5, 2_000
    scratch = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    data_folder = args.data or scratch / "data"
    large_data = dataset(data_folder, args.rows, args.file_rows)
    small_data = dataset(data_folder, args.small_rows, args.file_rows)  # the same when equal
    roots = {
        "dask": reused(args.project_dask, "dask") if args.project_dask else bake(scratch, "dask"),
        "local": (
            reused(args.project_local, "local") if args.project_local else bake(scratch, "local")
        ),
    }
    watcher = Watcher()
    print(f"\nload before the runs: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    try:
        with contextlib.ExitStack() as stack:
            for root in roots.values():
                stack.enter_context(kept(root / "params.yaml", root / "data" / "schema.yaml"))
            dask = Project(roots["dask"], scratch / "dask", watcher)
            local = Project(roots["local"], scratch / "local", watcher)
            for project in (dask, local):
                project.scratch.mkdir()
            with dask_cluster(dask, dask.scratch) as address:
                env = {"DASK_SCHEDULER_ADDRESS": address}
                large = run_path(dask, large_data, args.rows, args, env)
                train = {}
                if large.step("train") and not large.step("train").failed:
                    train = {args.max_rows: large.step("train")}
                    train.update(measure_train(dask, large_data, args, env))
                same = args.small_rows == args.rows
                small = large if same else run_path(dask, small_data, args.small_rows, args, env)
            local_small = run_path(local, small_data, args.small_rows, args, {})
            local_large = (
                run_path(local, large_data, args.rows, args, {}) if args.local_large else None
            )
    finally:
        watcher.stop()
    one, _, fifteen = os.getloadavg()
    print(f"\nload after the runs: {one:.2f} (1 min), {fifteen:.2f} (15 min)")
    report(large, small, local_small, local_large, train)
    print(f"\n(scratch folder: {scratch})")
    runs = [large, small, local_small, local_large]
    if not all(run.complete for run in runs if run is not None):
        sys.exit("a step failed: see its log above")


if __name__ == "__main__":
    main()
