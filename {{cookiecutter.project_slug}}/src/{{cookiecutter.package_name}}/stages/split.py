"""Stage split: a reproducible train/test split, stratified by class for classification."""

import argparse
import logging
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from ..errors import PipelineError
from ..params import Params, load_params
from ..pipeline.data import read_table, write_table

log = logging.getLogger(__name__)


def split(frame: pd.DataFrame, params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out split.test_size of the rows; the same seed gives the same rows."""
    stratify = frame[params.data.target] if params.task == "classification" else None
    test_size, seed = params.split.test_size, params.split.seed
    try:
        train, test = train_test_split(
            frame, test_size=test_size, random_state=seed, stratify=stratify
        )
    except ValueError as error:
        raise PipelineError(
            f"cannot split {len(frame)} rows with split.test_size={test_size}: {error}"
        ) from error
    return train.reset_index(drop=True), test.reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="split", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="validated Parquet file")
    parser.add_argument("--train", type=Path, required=True, help="training rows to write")
    parser.add_argument("--test", type=Path, required=True, help="test rows to write")
    args = parser.parse_args(argv)
    params = load_params()
    train, test = split(read_table(args.data), params)
    write_table(train, args.train)
    write_table(test, args.test)
    log.info("split into %d training and %d test rows", len(train), len(test))
