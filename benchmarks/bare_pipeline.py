"""Every stage of dvc.yaml in one process, without DVC: the baseline benchmarks/pipeline.py times.

Run inside a baked project with its environment:

    python bare_pipeline.py <package> --plan-only > plan.json   # resolve the stages, run none
    python bare_pipeline.py <package> [--plan plan.json]        # run them all in this process

DVC's own API reads dvc.yaml (templating such as ${paths.raw} resolved) and orders the
stages, dependencies first and otherwise as written. Each stage's command,
`python src/<package> <command> ...` or `python -m <package> <command> ...`, then runs
in-process through the project's command line, `<package>.cli.run(command, argv)`, and
writes its outputs where the stage says: the same work as `dvc repro -f` in one process, so
the difference is DVC's and the processes' cost. With --plan the stages come from a file
written by --plan-only and DVC is not even imported, so resolving them is not timed.
"""

import argparse
import importlib
import json
import os
import shlex
import sys
from pathlib import Path


def plan() -> list[dict]:
    """Each stage's name, folder (from the project's root) and commands, in an order that
    runs every stage after those it needs."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(".") as repo:
        index = repo.index
        position = {stage: number for number, stage in enumerate(index.stages)}
        # An edge runs from a stage to one it depends on; .dvc files (dvc add) have no cmd.
        order = nx.lexicographical_topological_sort(
            index.graph.reverse(copy=False), key=position.__getitem__
        )
        return [
            {
                "name": stage.name,
                "wdir": os.path.relpath(stage.wdir, repo.root_dir),
                "cmd": [stage.cmd] if isinstance(stage.cmd, str) else list(stage.cmd),
            }
            for stage in order
            if stage.cmd
        ]


def cli_call(line: str, package: str) -> tuple[str, list[str]]:
    """The project command and its arguments in a stage's command line."""
    tokens = shlex.split(line)
    if len(tokens) > 3 and tokens[1] == "-m" and tokens[2] == package:
        return tokens[3], tokens[4:]
    if len(tokens) > 2 and tokens[1] != "-m" and Path(tokens[1]).name == package:
        return tokens[2], tokens[3:]
    sys.exit(f"not a `python src/{package} <command>` line, cannot run it in-process: {line}")


def run(stages: list[dict], package: str, root: Path | None = None) -> None:
    """Run the stages in this process, in the project's root or in another folder `root`."""
    calls = [(stage["wdir"], cli_call(line, package)) for stage in stages for line in stage["cmd"]]
    cli = importlib.import_module(f"{package}.cli")
    home = Path.cwd()
    for wdir, (command, argv) in calls:
        os.chdir((root or home) / wdir)
        cli.run(command, argv)
    os.chdir(home)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("package", help="the project's Python package")
    parser.add_argument("--plan", type=Path, help="stages written by --plan-only")
    parser.add_argument("--plan-only", action="store_true", help="print the stages as JSON")
    args = parser.parse_args()
    stages = json.loads(args.plan.read_text()) if args.plan else plan()
    if args.plan_only:
        for stage in stages:  # fail here already on a line that cannot run in-process
            for line in stage["cmd"]:
                cli_call(line, args.package)
        print(json.dumps(stages, indent=2))
    else:
        run(stages, args.package)
        print(f"ran {', '.join(stage['name'] for stage in stages)} in one process")


if __name__ == "__main__":
    main()
