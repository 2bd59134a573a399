import datetime
import logging
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.pipeline.features import to_dates
from {{ cookiecutter.package_name }}.stages.ingest import ingest, warn_if_untracked

from .conftest import in_parts, make_params

pytestmark = pytest.mark.machinery


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


def test_dates_read_alike_from_csv_and_parquet(tmp_path: Path) -> None:
    """ISO 8601 text in a CSV, and Parquet's timestamps (with a time zone or not) and dates,
    all become naive UTC timestamps of one unit."""
    stamps = pd.to_datetime(["2024-03-01 09:30", None, "2024-12-31 23:00"])
    frame = pd.DataFrame(
        {
            "when": stamps,
            "zoned": stamps.tz_localize("Europe/Paris"),
            "day": [datetime.date(2024, 3, 1), None, datetime.date(2024, 12, 31)],
            "target": [0, 1, 0],
        }
    )
    frame.to_parquet(tmp_path / "data.parquet", index=False)
    frame.to_csv(tmp_path / "data.csv", index=False)
    from_parquet, from_csv = load(str(tmp_path / "data.parquet")), load(str(tmp_path / "data.csv"))
    pd.testing.assert_frame_equal(from_parquet, from_csv)
    assert (from_csv.dtypes[["when", "zoned", "day"]] == "datetime64[ns]").all()
    assert from_csv["zoned"][0] == pd.Timestamp("2024-03-01 08:30")  # UTC
    assert from_csv["day"][2] == pd.Timestamp("2024-12-31")


def test_a_value_that_is_no_date_is_named(tmp_path: Path) -> None:
    """The first rows decide a column holds dates; a later value that is not one fails."""
    dates = [f"2024-01-{day:02d}" for day in range(1, 29)] * 50
    pd.DataFrame({"when": [*dates, "soon"], "target": 0}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(PipelineError, match=r"column 'when' holds 'soon' where a date is"):
        load(str(tmp_path / "d.csv"))


@pytest.mark.parametrize("text", ["2024", "20240301", "2024-03", "2024-03-01T0930", "1/3/2024"])
def test_one_date_rule_everywhere(text: str) -> None:
    """Ingest, make predict and make monitor refuse what the server refuses."""
    with pytest.raises(PipelineError, match="where a date is expected"):
        to_dates(pd.Series(["2024-03-01", text]), "when")
