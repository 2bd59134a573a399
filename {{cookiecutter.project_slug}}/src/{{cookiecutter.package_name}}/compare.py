"""Compare two versions of the results, for review: metrics, params and plots.

Either side is a git revision (branch, tag, commit) or a DVC experiment's name; the head
side is the workspace unless named.
"""

import argparse
import subprocess
from pathlib import Path

from dvc.repo import Repo
from dvc.scm import RevError, resolve_rev

from .errors import PipelineError, not_an_option


def dvc(*args: str) -> str:
    """Run a DVC command and return what it printed, or raise with DVC's own message."""
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"`dvc {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout.strip()


def check_revision(revision: str, variable: str = "BASE") -> None:
    """Fail naming the revision unless git or DVC's experiments know it (as DVC resolves it)."""
    not_an_option(revision, variable)
    with Repo() as repo:
        try:
            resolve_rev(repo.scm, revision)
        except RevError as error:
            raise PipelineError(
                f"{revision!r} is neither a git revision nor an experiment here - fetch it "
                "(`git fetch origin <branch>`), see the experiments with `make experiments`, "
                f"or pass another one with {variable}=<revision or experiment>"
            ) from error


def table_or(text: str, empty: str) -> str:
    """DVC's Markdown table, or a sentence when it has no rows (header and rule only)."""
    return text if len(text.splitlines()) > 2 else empty


def report(base: str, head: str | None = None) -> str:
    """Markdown: every metric beside its value at `base`, and the params that changed."""
    revisions = [base] if head is None else [base, head]
    metrics = dvc("metrics", "diff", "--all", "--md", *revisions)
    params = dvc("params", "diff", "--md", *revisions)
    subject = "this change" if head is None else f"`{head}`"
    return (
        f"## Model report: {subject} compared with `{base}`\n\n"
        f"### Metrics\n\n{table_or(metrics, 'No metrics to compare.')}\n\n"
        f"### Parameters\n\n{table_or(params, 'No parameter changed.')}\n"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="compare", description=__doc__)
    parser.add_argument("--base", required=True, help="git revision or experiment to compare with")
    parser.add_argument("--head", help="git revision or experiment to compare (the workspace)")
    parser.add_argument("--out", type=Path, required=True, help="Markdown report to write")
    parser.add_argument("--plots", type=Path, required=True, help="folder for the plots' HTML")
    args = parser.parse_args(argv)
    check_revision(args.base)
    if args.head is not None:
        check_revision(args.head, "HEAD")
    text = report(args.base, args.head)
    revisions = [args.base] if args.head is None else [args.base, args.head]
    dvc("plots", "diff", *revisions, "--out", str(args.plots))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} and {args.plots / 'index.html'}")
