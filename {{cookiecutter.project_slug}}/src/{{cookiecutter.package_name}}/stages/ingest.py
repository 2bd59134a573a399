"""Stage ingest: read data.source into a Parquet snapshot."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from ..params import Params, load_params
from ..pipeline.data import load_source, write_table

log = logging.getLogger(__name__)


def ingest(params: Params) -> pd.DataFrame:
    """Load the dataset data.source names, with every column name a string."""
    return load_source(params.data.source)


def warn_if_untracked(source: str, folder: Path) -> None:
    """A local file outside the folder dvc.yaml lists as a dependency reruns nothing."""
    local = "://" not in source and not source.startswith("sklearn:")
    if local and folder.resolve() not in Path(source).resolve().parents:
        log.warning(
            "data.source %s is outside %s/, so DVC will not rerun the pipeline when it "
            "changes - move it there and `dvc add` it",
            source,
            folder,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ingest", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    parser.add_argument("--tracked", type=Path, required=True, help="folder of dvc-added data")
    args = parser.parse_args(argv)
    params = load_params()
    warn_if_untracked(params.data.source, args.tracked)
    frame = ingest(params)
    write_table(frame, args.out)
    log.info("ingested %d rows x %d columns from %s", *frame.shape, params.data.source)
