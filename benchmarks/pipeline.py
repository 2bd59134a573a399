"""Measure what DVC and the pipeline's structure cost, side by side in one run.

    .venv/bin/python benchmarks/pipeline.py [--rows 40000] [--repeats 3]

Bakes the default project into a temporary folder, installs it, then prints:
1. `make ci` wall time split by step (lint, test, repro, verify, deploy-check) on a fresh bake;
2. peak memory (max RSS) of each stage;
3. full `dvc repro -f` against bare_pipeline.py (the same load, validate, split, fit, score
   and profile in one process) on the default data and on a synthetic CSV of --rows rows
   (target ratio at most 1.3 on the large data, where the bare script takes 30 s or more);
4. a no-op `dvc repro` against a no-op repro of a one-stage toy pipeline (target at most 1.3).
Ratios use the median of --repeats runs.
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from cookiecutter.main import cookiecutter

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent


class Project:
    """A baked project whose commands run inside its own environment."""

    def __init__(self, root: Path, venv: Path | None = None) -> None:
        self.root = root
        venv = venv or root / ".venv"
        hidden = ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL")
        self.env = {k: v for k, v in os.environ.items() if k not in hidden}
        self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{self.env['PATH']}"
        self.env["VIRTUAL_ENV"] = str(venv)

    def run(self, command: str) -> float:
        """Run a shell command; return its wall time in seconds."""
        start = time.perf_counter()
        result = subprocess.run(
            command, shell=True, cwd=self.root, env=self.env, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            output = result.stdout[-3000:] + result.stderr[-3000:]
            sys.exit(f"`{command}` failed in {self.root}:\n{output}")
        return elapsed

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


def toy_pipeline(root: Path) -> Project:
    """A one-stage DVC pipeline that copies a file: DVC's floor for a no-op repro."""
    root.mkdir()
    (root / "input.txt").write_text("data\n")
    stage = {"cmd": "cp input.txt output.txt", "deps": ["input.txt"], "outs": ["output.txt"]}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"copy": stage}}))
    return root


def section(title: str) -> None:
    print(f"\n## {title}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=40_000, help="rows of the synthetic dataset")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    project = Project(Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(scratch))))
    package = project.root.name.replace("-", "_")
    print(f"baked {project.root}; installing")
    project.run("make install")

    section("make ci on a fresh bake, by step")
    names = ("lint", "test", "repro", "verify", "deploy-check")  # what `make ci` runs
    steps = {step: project.run(f"make {step}") for step in names}
    total = sum(steps.values())
    for step, seconds in steps.items():
        print(f"  make {step:<12} {seconds:7.1f} s  {seconds / total:5.0%}")
    print(f"  make ci           {total:7.1f} s")

    section("peak memory by stage (max RSS of the stage's process)")
    stages = yaml.safe_load((project.root / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        print(f"  {name:<9} {project.peak_rss_mb(stage['cmd']):7.0f} MiB")

    section("full pipeline: dvc repro -f vs one bare process (default data)")
    bare = f"python {shlex.quote(str(HERE / 'bare_pipeline.py'))} {package}"
    report_ratio(
        median_time(project, "dvc repro -f", args.repeats), median_time(project, bare, args.repeats)
    )

    section("no-op repro: this pipeline vs a one-stage toy pipeline")
    toy = Project(toy_pipeline(scratch / "toy"), venv=project.root / ".venv")
    toy.run("git init -q && dvc init -q && dvc repro -q")
    noop = median_time(project, "dvc repro", args.repeats)
    floor = median_time(toy, "dvc repro", args.repeats)
    ratio = noop / floor
    print(f"  this pipeline {noop:6.2f} s   toy {floor:6.2f} s   ratio {ratio:.2f} (target <= 1.3)")

    section(f"full pipeline on {args.rows:,} synthetic rows: dvc repro -f vs one bare process")
    data = "data/external/synthetic.csv"
    project.run(f"python {shlex.quote(str(HERE / 'synthetic_data.py'))} {args.rows} {data}")
    params = yaml.safe_load((project.root / "params.yaml").read_text())
    params["data"] = {"source": data, "target": "label"}
    (project.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    full = median_time(project, "dvc repro -f", args.repeats)
    alone = median_time(project, bare, args.repeats)
    report_ratio(full, alone, target=1.3)
    if alone < 30:
        print(f"  note: the bare script took {alone:.0f} s, under 30 s: raise --rows")
    print(f"\n(scratch folder: {scratch})")


def report_ratio(dvc_seconds: float, bare_seconds: float, target: float | None = None) -> None:
    goal = f" (target <= {target})" if target else ""
    print(
        f"  dvc repro -f {dvc_seconds:7.1f} s   bare {bare_seconds:7.1f} s   "
        f"ratio {dvc_seconds / bare_seconds:.2f}{goal}"
    )


if __name__ == "__main__":
    main()
