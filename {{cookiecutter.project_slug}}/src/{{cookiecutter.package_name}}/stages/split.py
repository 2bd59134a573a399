"""Stage split: each row is held out for testing or not by a hash of its values and the seed.

A row's side depends on nothing else, so the split is the same however the data is
partitioned, on either engine and with any number of workers.
"""

import argparse
import logging
from collections import Counter
from pathlib import Path

import pandas as pd

from ..errors import PipelineError
from ..params import Params, load_params
from ..pipeline.engine import Table, open_table, running
from ..pipeline.rows import uniform

log = logging.getLogger(__name__)


def held_out(partition: pd.DataFrame, seed: int, test_size: float) -> pd.Series:
    """Which rows of a partition go to the test set: about test_size of them."""
    return pd.Series(uniform(partition, seed) < test_size, index=partition.index)


def side(
    partition: pd.DataFrame, number: int, seed: int, test_size: float, test: bool
) -> pd.DataFrame:
    """A partition's test rows (test=True) or training rows."""
    return partition[held_out(partition, seed, test_size) == test]


def count_sides(
    partition: pd.DataFrame, number: int, seed: int, test_size: float, target: str | None
) -> tuple[Counter, Counter]:
    """Rows per class (without a target: all rows under one key) on each side."""
    test = held_out(partition, seed, test_size)
    labels = partition[target] if target else pd.Series("rows", index=partition.index)
    return (
        Counter(labels[~test].tolist()),
        Counter(labels[test].tolist()),
    )


def split(table: Table, params: Params) -> tuple[Table, Table]:
    """Hold out about split.test_size of the rows; the same seed gives the same rows.

    Raises PipelineError when a side would be empty, or a class has no training rows.
    """
    test_size, seed = params.split.test_size, params.split.seed
    target = params.data.target if params.task == "classification" else None
    train_counts: Counter = Counter()
    test_counts: Counter = Counter()
    for train_part, test_part in table.summarise(count_sides, seed, test_size, target):
        train_counts.update(train_part)
        test_counts.update(test_part)
    rows = train_counts.total() + test_counts.total()
    for name, counts in (("training", train_counts), ("test", test_counts)):
        if not counts.total():
            raise PipelineError(
                f"cannot split {rows} rows with split.test_size={test_size}: the {name} set "
                "would be empty - add rows, or move split.test_size away from 0 or 1"
            )
    untrained = sorted(set(test_counts) - set(train_counts), key=repr)
    if target and untrained:
        raise PipelineError(
            f"class(es) {', '.join(map(repr, untrained))} of target {params.data.target!r} "
            f"have no training rows with split.seed={seed} and split.test_size={test_size} "
            "- add rows of those classes, drop them from the data, or change split.seed"
        )
    untested = sorted(set(train_counts) - set(test_counts), key=repr)
    if target and untested:
        log.warning(
            "class(es) %s have no test rows: their metrics cannot be measured",
            ", ".join(map(repr, untested)),
        )
    return table.map(side, seed, test_size, False), table.map(side, seed, test_size, True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="split", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="validated Parquet data")
    parser.add_argument("--train", type=Path, required=True, help="training rows to write")
    parser.add_argument("--test", type=Path, required=True, help="test rows to write")
    args = parser.parse_args(argv)
    params = load_params()
    with running():
        train, test = split(open_table(args.data), params)
        train_rows, test_rows = train.write(args.train), test.write(args.test)
    log.info("split into %d training and %d test rows", train_rows, test_rows)
