"""Measure what DVC and the pipeline's structure cost, side by side in one run.

    .venv/bin/python benchmarks/pipeline.py [--rows 40000] [--repeats 3] [--project PATH]
    .venv/bin/python benchmarks/pipeline.py --ci-only      # section 1 alone
    .venv/bin/python benchmarks/pipeline.py --smoke [--project PATH]

Bakes the default project into a temporary folder, installs it, then prints:
1. `make ci` wall time split by step (lint, test, repro, ... as the Makefile lists them) on a
   fresh bake, and the test step against the pipeline step (target: at most 1.0, the daily
   loop's tests no longer than its pipeline);
2. peak memory (max RSS) of each stage;
3. full `dvc repro -f` against bare_pipeline.py (every stage of dvc.yaml run in one process
   through the project's command line) on the default data and on a synthetic CSV of
   --rows rows (target ratio at most 1.3 on the large data, where the bare script takes
   30 s or more);
4. a no-op `dvc repro` against a no-op repro of a one-stage toy pipeline (target at most 1.3).
Ratios use the median of --repeats runs.

--project reuses a baked project whose .venv is installed (`make install`) instead of a new
bake; its params.yaml is put back at the end, its outputs are the last run's. --smoke is
the template's check that this script still runs (tests/test_benchmarks.py), its numbers
mean nothing: one repeat, 200 synthetic rows, the first stage's memory only, and neither
section 1 nor the default-data run of section 3 (the slow tests run `make ci` themselves).
"""

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import baking  # noqa: E402


class Project:
    """A baked project whose commands run inside its own environment."""

    def __init__(self, root: Path, venv: Path | None = None) -> None:
        self.root = root
        self.env = baking.environment(venv or root / ".venv")

    def run(self, command: str) -> float:
        """Run a shell command; return its wall time in seconds."""
        start = time.perf_counter()
        self.output(command)
        return time.perf_counter() - start

    def output(self, command: str) -> str:
        """Run a shell command; return what it printed."""
        result = subprocess.run(
            command, shell=True, cwd=self.root, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            output = result.stdout[-3000:] + result.stderr[-3000:]
            sys.exit(f"`{command}` failed in {self.root}:\n{output}")
        return result.stdout

    def peak_rss_mb(self, command: str) -> float:
        """Run a command in a fresh wrapper process; return its peak RSS in MiB."""
        probe = (
            "import resource, subprocess, sys;"
            "subprocess.run(sys.argv[1], shell=True, check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe, command], cwd=self.root, env=self.env,
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return int(out.split()[-1]) / 1024


def median_time(project: Project, command: str, repeats: int) -> float:
    return statistics.median(project.run(command) for _ in range(repeats))


def toy_pipeline(root: Path) -> Path:
    """A one-stage DVC pipeline that copies a file: DVC's floor for a no-op repro."""
    root.mkdir()
    (root / "input.txt").write_text("data\n")
    stage = {"cmd": "cp input.txt output.txt", "deps": ["input.txt"], "outs": ["output.txt"]}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"copy": stage}}))
    return root


def section(title: str) -> None:
    print(f"\n## {title}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=40_000, help="rows of the synthetic dataset")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--project", type=Path, help="a baked, installed project to reuse")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does it still work?")
    parser.add_argument("--ci-only", action="store_true", help="make ci by step, nothing more")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.repeats = 200, 1
    scratch = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    root, package = baking.project(scratch, args.project)
    project = Project(root)
    params_file = root / "params.yaml"
    params_text = params_file.read_text()
    data = "data/external/synthetic.csv"
    try:
        measure(project, package, scratch, data, args)
    finally:
        params_file.write_text(params_text)
        (root / data).unlink(missing_ok=True)
    print(f"\n(scratch folder: {scratch})")


def measure(project: Project, package: str, scratch: Path, data: str, args) -> None:
    script = shlex.quote(str(HERE / "bare_pipeline.py"))

    def bare_plan() -> str:
        """Resolve dvc.yaml's stages once, untimed; return the bare run's command."""
        plan = scratch / "plan.json"
        plan.write_text(project.output(f"python {script} {package} --plan-only"))
        return f"python {script} {package} --plan {shlex.quote(str(plan))}"

    if not args.smoke:
        section("make ci on a fresh bake, by step")
        makefile = (project.root / "Makefile").read_text()
        names = re.search(r"^ci:([^#\n]*)", makefile, re.M).group(1).split()  # its steps
        steps = {step: project.run(f"make {step}") for step in names}
        total = sum(steps.values())
        for step, seconds in steps.items():
            print(f"  make {step:<12} {seconds:7.1f} s  {seconds / total:5.0%}")
        print(f"  make ci           {total:7.1f} s")
        ratio = steps["test"] / steps["repro"]
        print(f"  test / repro      {ratio:7.2f}   (target <= 1.0)", flush=True)
        if args.ci_only:
            return

    section("peak memory by stage (max RSS of the stage's process)")
    bare = bare_plan()
    stages = json.loads((scratch / "plan.json").read_text())
    for stage in stages[:1] if args.smoke else stages:
        command = " && ".join([f"cd {shlex.quote(stage['wdir'])}", *stage["cmd"]])
        print(f"  {stage['name']:<9} {project.peak_rss_mb(command):7.0f} MiB")

    if not args.smoke:
        section("full pipeline: dvc repro -f vs one bare process (default data)")
        report_ratio(
            median_time(project, "dvc repro -f", args.repeats),
            median_time(project, bare, args.repeats),
        )

    section(f"full pipeline on {args.rows:,} synthetic rows: dvc repro -f vs one bare process")
    project.run(f"python {shlex.quote(str(HERE / 'synthetic_data.py'))} {args.rows} {data}")
    params = yaml.safe_load((project.root / "params.yaml").read_text())
    params["data"] = {"source": data, "target": "label"}
    (project.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    bare = bare_plan()
    full = median_time(project, "dvc repro -f", args.repeats)
    alone = median_time(project, bare, args.repeats)
    report_ratio(full, alone, target=1.3)
    if alone < 30 and not args.smoke:
        print(f"  note: the bare script took {alone:.0f} s, under 30 s: raise --rows")

    section("no-op repro: this pipeline vs a one-stage toy pipeline")
    toy = Project(toy_pipeline(scratch / "toy"), venv=project.root / ".venv")
    toy.run("git init -q && dvc init -q && dvc repro -q")
    project.run("dvc repro")  # the bare run rewrote the outputs: DVC hashes them once again
    noop = median_time(project, "dvc repro", args.repeats)
    floor = median_time(toy, "dvc repro", args.repeats)
    ratio = noop / floor
    print(f"  this pipeline {noop:6.2f} s   toy {floor:6.2f} s   ratio {ratio:.2f} (target <= 1.3)")


def report_ratio(dvc_seconds: float, bare_seconds: float, target: float | None = None) -> None:
    goal = f" (target <= {target})" if target else ""
    print(
        f"  dvc repro -f {dvc_seconds:7.1f} s   bare {bare_seconds:7.1f} s   "
        f"ratio {dvc_seconds / bare_seconds:.2f}{goal}",
        flush=True,
    )


if __name__ == "__main__":
    main()
