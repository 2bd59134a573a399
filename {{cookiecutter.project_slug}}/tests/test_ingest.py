import logging
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.stages.ingest import ingest, warn_if_untracked

from .conftest import in_parts, make_params


def load(source: str) -> pd.DataFrame:
    return ingest(make_params(source=source)).to_pandas()


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
    ("suffix", "pattern"),
    [(".parquet", ""), (".parquet", "part-*.parquet"), (".csv", "part-*.csv")],
    ids=["parquet-folder", "parquet-glob", "csv-glob"],
)
def test_partitioned_source(tmp_path: Path, mixed_frame, suffix: str, pattern: str) -> None:
    """A dataset folder or a glob of files loads as one table, the files in name order."""
    folder = in_parts(mixed_frame, tmp_path / "parts", 4, suffix)
    frame = load(f"{folder}/{pattern}" if pattern else str(folder))
    pd.testing.assert_frame_equal(frame, mixed_frame, check_dtype=suffix != ".csv")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("sklearn:nope", "names no bundled dataset"),
        ("missing/file.csv", "does not exist"),
        ("missing/*.parquet", "matches no file"),
    ],
)
def test_bad_source_is_explained(source: str, message: str) -> None:
    """A source that cannot be read fails with a message, not a traceback."""
    with pytest.raises(PipelineError, match=message):
        load(source)


def test_unknown_file_type_is_explained(tmp_path: Path) -> None:
    (tmp_path / "data.xlsx").write_bytes(b"")
    with pytest.raises(PipelineError, match=r"\.xlsx - point it at \.csv files or at Parquet"):
        load(str(tmp_path / "data.xlsx"))


def test_key_value_folders_are_refused(tmp_path: Path, mixed_frame: pd.DataFrame) -> None:
    """A Hive-partitioned dataset keeps a column in its folder names, which a file read
    alone would lose."""
    mixed_frame.to_parquet(tmp_path / "events", partition_cols=["colour"])
    with pytest.raises(PipelineError, match=r"key=value folders \(colour="):
        load(str(tmp_path / "events"))


def test_unreadable_file_is_explained(tmp_path: Path) -> None:
    """A corrupt Parquet file fails naming the file."""
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(PipelineError, match=r"cannot read .*broken\.parquet"):
        load(str(path))


@pytest.mark.parametrize(
    ("source", "warned"),
    [
        ("data/external/data.csv", False),
        ("data/external", False),
        ("data/external/sales/*.parquet", False),
        ("data/other.csv", True),
        ("data/*/part-*.csv", True),
        ("s3://bucket/data/*.parquet", False),
        ("sklearn:iris", False),
    ],
)
def test_untracked_source_is_warned(source: str, warned: bool, caplog) -> None:
    """Local data outside the dvc-added folder (or a glob that may reach outside it) is
    named, since DVC would not rerun the pipeline when it changes."""
    with caplog.at_level(logging.WARNING):
        warn_if_untracked(source, Path("data/external"))
    assert ("DVC will not rerun" in caplog.text) == warned
