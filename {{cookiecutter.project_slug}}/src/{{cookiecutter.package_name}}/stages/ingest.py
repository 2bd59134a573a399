"""Stage ingest: read data.source into a Parquet snapshot."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from ..params import Params, load_params
from ..pipeline.data import load_source, write_table

log = logging.getLogger(__name__)
# dvc.yaml lists this folder as a dependency, so changes to files in it rerun the pipeline.
TRACKED_FOLDER = Path("data/external")


def ingest(params: Params) -> pd.DataFrame:
    """Load the dataset data.source names, with every column name a string."""
    source = params.data.source
    frame = load_source(source)
    local = "://" not in source and not source.startswith("sklearn:")
    if local and TRACKED_FOLDER.resolve() not in Path(source).resolve().parents:
        log.warning(
            "data.source %s is outside %s/, so DVC will not rerun the pipeline when it "
            "changes - move it there and `dvc add` it",
            source,
            TRACKED_FOLDER,
        )
    return frame


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ingest", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    args = parser.parse_args(argv)
    params = load_params()
    frame = ingest(params)
    write_table(frame, args.out)
    log.info("ingested %d rows x %d columns from %s", *frame.shape, params.data.source)
