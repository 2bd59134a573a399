"""Load the dataset named by data.source, and move tables in and out of Parquet files."""

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..errors import PipelineError
from .features import prepare

# Datasets that ship inside scikit-learn (so the default pipeline needs no download), with
# the loader's keyword arguments.
BUNDLED: dict[str, dict] = {
    "breast_cancer": {},
    "diabetes": {"scaled": False},
    "iris": {},
    "wine": {},
}
READERS: dict[str, Callable[[str], pd.DataFrame]] = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
}


def load_source(source: str) -> pd.DataFrame:
    """Read `sklearn:<name>`, a CSV or Parquet path, or an fsspec URL into a DataFrame."""
    if source.startswith("sklearn:"):
        name = source.removeprefix("sklearn:")
        if name not in BUNDLED:
            raise PipelineError(
                f"data.source {source!r} names no bundled dataset - "
                f"use one of {', '.join('sklearn:' + key for key in BUNDLED)}"
            )
        # Imported here: scikit-learn costs every stage process a second or more to import.
        from sklearn import datasets

        return getattr(datasets, f"load_{name}")(as_frame=True, **BUNDLED[name]).frame
    suffix = Path(source.split("?", 1)[0]).suffix.lower()
    if suffix not in READERS:
        raise PipelineError(
            f"data.source {source!r} has an unknown file type {suffix!r} - "
            f"point it at a {', '.join(READERS)} file"
        )
    try:
        frame = READERS[suffix](source)
    except FileNotFoundError as error:
        raise PipelineError(
            f"data.source {source!r} does not exist - check the path in params.yaml "
            "(relative paths start at the project root) or run `dvc pull`"
        ) from error
    except (OSError, ValueError, ImportError) as error:
        raise PipelineError(f"cannot read data.source {source!r}: {error}") from error
    frame.columns = [str(column) for column in frame.columns]
    return frame


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
