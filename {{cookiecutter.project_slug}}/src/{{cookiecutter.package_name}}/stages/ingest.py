"""Stage ingest: read data.source (a bundled dataset, or Parquet or CSV files by path,
folder, glob or URL) into the pipeline's Parquet snapshot.

Dates come out alike from any format: CSV's ISO 8601 text and Parquet's timestamps (with a
time zone or not) become naive UTC timestamps, which derive.py turns into numbers."""

import argparse
import logging
from pathlib import Path

import pandas as pd
from pandas.api import types

from ..errors import PipelineError
from ..params import Params, load_params
from ..pipeline import tables
from ..pipeline.engine import Table, open_table, running
from ..pipeline.features import looks_like_dates, to_dates
from ..pipeline.sources import GLOB_CHARACTERS

log = logging.getLogger(__name__)


# Rows of the first file whose text columns decide which hold dates.
DATE_SAMPLE_ROWS = 1000


def ingest(params: Params) -> Table:
    """The table data.source names, in partitions, every column name a string."""
    source = params.data.source
    try:
        table = open_table(source)
        head = next(iter(tables.open_table(source, chunk_rows=DATE_SAMPLE_ROWS)), table.meta)
    except (OSError, ValueError) as error:  # each reader raises its own kinds: unreadable
        raise PipelineError(f"cannot read data.source {source!r}: {error}") from error
    dates = date_columns(head, params.data.target)
    return table.map(with_dates, dates) if dates else table


def date_columns(head: pd.DataFrame, target: str) -> list[str]:
    """The columns to read as dates: ISO 8601 text (CSV), Python dates (Parquet's date32)
    and timestamps of any unit, with a time zone or not."""
    return [
        str(name)
        for name, column in head.items()
        if name != target and (looks_like_dates(column) or types.is_datetime64_any_dtype(column))
    ]


def with_dates(frame: pd.DataFrame, number: int, dates: list[str]) -> pd.DataFrame:
    try:
        return frame.assign(**{name: to_dates(frame[name], name) for name in dates})
    except PipelineError as error:
        raise PipelineError(f"{error} (partition {number} of data.source)") from None


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
