"""Stage split: a reproducible train/test split, stratified by class for classification."""

import argparse
import logging
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from ..data import read_table, write_table
from ..errors import PipelineError
from ..params import load_params

log = logging.getLogger(__name__)


def split(
    frame: pd.DataFrame, target: str, task: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out test_size of the rows; the same seed gives the same rows."""
    stratify = frame[target] if task == "classification" else None
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
    train, test = split(
        read_table(args.data),
        params.data.target,
        params.task,
        params.split.test_size,
        params.split.seed,
    )
    write_table(train, args.train)
    write_table(test, args.test)
    log.info("split into %d training and %d test rows", len(train), len(test))
