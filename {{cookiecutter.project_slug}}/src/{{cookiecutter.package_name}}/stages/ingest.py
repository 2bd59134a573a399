"""Stage ingest: read data.source (a bundled dataset, or Parquet or CSV files by path,
folder, glob or URL) into the pipeline's Parquet snapshot."""

import argparse
import logging
from pathlib import Path

from ..errors import PipelineError
from ..params import Params, load_params
from ..pipeline.engine import Table, open_table, running
from ..pipeline.sources import GLOB_CHARACTERS

log = logging.getLogger(__name__)


def ingest(params: Params) -> Table:
    """The table data.source names, in partitions, every column name a string."""
    source = params.data.source
    try:
        return open_table(source)
    except (OSError, ValueError) as error:  # each reader raises its own kinds: unreadable
        raise PipelineError(f"cannot read data.source {source!r}: {error}") from error


def warn_if_untracked(source: str, folder: Path) -> None:
    """Local data outside the folder dvc.yaml lists as a dependency reruns nothing."""
    if "://" in source or source.startswith("sklearn:"):
        return
    # A glob is tracked when the folder it searches is: its part before the first wildcard.
    wildcards = [source.find(character) for character in GLOB_CHARACTERS if character in source]
    searched = Path(source[: min(wildcards)] if wildcards else source).resolve()
    tracked = folder.resolve()
    if searched != tracked and tracked not in searched.parents:
        log.warning(
            "data.source %s is outside %s/, so DVC will not rerun the pipeline when it "
            "changes - move it there and `dvc add` it",
            source,
            folder,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ingest", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="Parquet snapshot to write")
    parser.add_argument("--tracked", type=Path, required=True, help="folder of dvc-added data")
    args = parser.parse_args(argv)
    params = load_params()
    warn_if_untracked(params.data.source, args.tracked)
    with running():
        table = ingest(params)
        rows = table.write(args.out)
    log.info("ingested %d rows x %d columns from %s", rows, len(table.columns), params.data.source)
