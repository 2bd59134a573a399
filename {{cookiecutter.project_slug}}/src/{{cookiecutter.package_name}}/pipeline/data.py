"""Move the pipeline's tables in and out of Parquet files (sources.py reads data.source)."""

from pathlib import Path

import pandas as pd

from .features import prepare


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a Parquet file written by an earlier stage."""
    return pd.read_parquet(path)


def write_table(frame: pd.DataFrame, path: Path | str) -> None:
    """Write a Parquet file without the index, so equal data gives equal bytes."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def features_and_target(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Split a table into the model's inputs, in the form serving uses too, and its target."""
    return prepare(frame.drop(columns=[target])), frame[target]
