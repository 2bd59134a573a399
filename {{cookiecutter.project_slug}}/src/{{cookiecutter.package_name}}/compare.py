"""Compare the workspace with a git revision: metrics, params and plots, for review."""

import argparse
import subprocess
from pathlib import Path

from .errors import PipelineError


def dvc(*args: str) -> str:
    """Run a DVC command and return what it printed, or raise with DVC's own message."""
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"`dvc {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout.strip()


def check_revision(base: str) -> None:
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", base + "^{commit}"], capture_output=True
    )
    if found.returncode != 0:
        raise PipelineError(
            f"git revision {base!r} was not found - fetch it (`git fetch origin <branch>`) "
            "or pass another one with BASE=<revision>"
        )


def table_or(text: str, empty: str) -> str:
    """DVC's Markdown table, or a sentence when it has no rows (header and rule only)."""
    return text if len(text.splitlines()) > 2 else empty


def report(base: str) -> str:
    """Markdown: every metric beside its value at `base`, and the params that changed."""
    metrics = table_or(dvc("metrics", "diff", "--all", "--md", base), "No metrics to compare.")
    params = table_or(dvc("params", "diff", "--md", base), "No parameter changed.")
    return (
        f"## Model report: this change compared with `{base}`\n\n"
        f"### Metrics\n\n{metrics}\n\n### Parameters\n\n{params}\n"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="compare", description=__doc__)
    parser.add_argument("--base", required=True, help="git revision to compare with")
    parser.add_argument("--out", type=Path, required=True, help="Markdown report to write")
    parser.add_argument("--plots", type=Path, required=True, help="folder for the plots' HTML")
    args = parser.parse_args(argv)
    check_revision(args.base)
    text = report(args.base)
    dvc("plots", "diff", args.base, "--out", str(args.plots))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} and {args.plots / 'index.html'}")
