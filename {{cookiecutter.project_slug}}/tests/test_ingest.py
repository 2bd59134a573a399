from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.stages.ingest import ingest

from .conftest import make_params


def load(source: str) -> pd.DataFrame:
    return ingest(make_params(source=source))


def test_bundled_dataset_has_target() -> None:
    """A bundled scikit-learn dataset loads with its label in column 'target'."""
    frame = load("sklearn:iris")
    assert len(frame) == 150
    assert "target" in frame.columns


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_file_source(tmp_path: Path, mixed_frame: pd.DataFrame, suffix: str) -> None:
    """CSV and Parquet files load with the same columns."""
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        mixed_frame.to_csv(path, index=False)
    else:
        mixed_frame.to_parquet(path, index=False)
    assert list(load(str(path)).columns) == list(mixed_frame.columns)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("sklearn:nope", "names no bundled dataset"),
        ("missing/file.csv", "does not exist"),
        ("data.xlsx", "unknown file type"),
    ],
)
def test_bad_source_is_explained(source: str, message: str) -> None:
    """A source that cannot be read fails with a message, not a traceback."""
    with pytest.raises(PipelineError, match=message):
        load(source)


def test_unreadable_file_is_explained(tmp_path: Path) -> None:
    """A corrupt Parquet file fails naming data.source."""
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(PipelineError, match=r"cannot read data.source"):
        load(str(path))
