from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.pipeline import derive
from {{ cookiecutter.package_name }}.pipeline.schema import (
    PARTITIONS,
    infer_schema,
    load_schema,
    save_schema,
)
from {{ cookiecutter.package_name }}.pipeline.tables import from_frame, open_table
from {{ cookiecutter.package_name }}.stages.validate import infer, validate

from .conftest import in_parts, make_params

pytestmark = pytest.mark.machinery

SCHEMA = Path("schema.yaml")


def check(frame: pd.DataFrame, task: str = "classification", schema=None):
    valid, report = validate(from_frame(frame), schema, SCHEMA, make_params(task))
    return valid.to_pandas(), report


def test_valid_data_passes(mixed_frame: pd.DataFrame) -> None:
    """Clean data passes whole, and the report counts it."""
    valid, report = check(mixed_frame)
    assert len(valid) == len(mixed_frame)
    assert report == {"rows": 80, "rows_dropped_missing_target": 0, "columns": 3, "warnings": []}


def test_rows_without_target_are_dropped_and_counted(mixed_frame: pd.DataFrame) -> None:
    """Rows with a missing target are dropped and counted in the report."""
    frame = mixed_frame.astype({"target": float})
    frame.loc[[0, 1, 2], "target"] = None
    valid, report = check(frame)
    assert len(valid) == len(frame) - 3
    assert report["rows_dropped_missing_target"] == 3


def test_missing_target_column_is_named(mixed_frame: pd.DataFrame) -> None:
    with pytest.raises(PipelineError, match=r"data.target 'target' is not a column"):
        check(mixed_frame.drop(columns="target"))


def test_continuous_target_fails_classification(regression_frame: pd.DataFrame) -> None:
    frame = regression_frame.assign(target=regression_frame["size"].fillna(0) + 0.5)
    with pytest.raises(PipelineError, match=r"continuous values.*task: regression"):
        check(frame)


def test_single_class_fails(mixed_frame: pd.DataFrame) -> None:
    with pytest.raises(PipelineError, match="single class"):
        check(mixed_frame.assign(target=1))


def test_constant_target_fails_regression(regression_frame: pd.DataFrame) -> None:
    with pytest.raises(PipelineError, match="single value"):
        check(regression_frame.assign(target=2.5), "regression")


def test_text_target_fails_regression(mixed_frame: pd.DataFrame) -> None:
    with pytest.raises(PipelineError, match="not numeric"):
        labels = mixed_frame["target"].map({0: "no", 1: "yes"})
        check(mixed_frame.assign(target=labels), "regression")


def test_unusable_column_is_named(mixed_frame: pd.DataFrame) -> None:
    """A column the pipeline cannot encode fails naming the column and its type."""
    frame = mixed_frame.assign(took=pd.Timedelta("1h"))
    with pytest.raises(PipelineError, match=r"'took' \(timedelta64"):
        check(frame)


def test_a_date_is_an_input_derive_must_turn_into_numbers(mixed_frame, monkeypatch) -> None:
    """A date column is valid data; left as a date by derive(), it fails naming derive.py."""
    frame = mixed_frame.assign(when=pd.Timestamp("2024-01-01"))
    with pytest.raises(PipelineError, match=r"derive\(\) in src/.*derive.py returns .*'when'"):
        check(frame)
    monkeypatch.setattr(derive, "derive", lambda rows: rows.drop(columns="when"))
    valid, _ = check(frame)
    assert valid["when"].dtype.kind == "M"


def test_an_identifier_gets_a_warning_until_derive_drops_it(mixed_frame, monkeypatch) -> None:
    frame = mixed_frame.assign(name=[f"car {i}" for i in range(len(mixed_frame))])
    _, report = check(frame)
    assert len(report["warnings"]) == 1
    assert "column 'name' has 80 distinct values in 80 rows" in report["warnings"][0]
    assert "drop it in derive() in src/" in report["warnings"][0]
    monkeypatch.setattr(derive, "derive", lambda rows: rows.drop(columns="name"))
    assert check(frame)[1]["warnings"] == []


@pytest.fixture
def schema(mixed_frame: pd.DataFrame, tmp_path: Path):
    """A schema inferred from the tiny data, saved and loaded as the pipeline does."""
    path = tmp_path / "schema.yaml"
    save_schema(infer_schema(mixed_frame, "target"), "memory", path)
    return load_schema(path, "memory")


def test_schema_is_enforced_on_same_data(mixed_frame: pd.DataFrame, schema) -> None:
    valid, _ = check(mixed_frame, schema=schema)
    assert len(valid) == len(mixed_frame)


def test_schema_of_other_source_is_ignored(mixed_frame: pd.DataFrame, tmp_path: Path) -> None:
    """Pointing data.source elsewhere infers a new schema instead of failing."""
    path = tmp_path / "schema.yaml"
    save_schema(infer_schema(mixed_frame, "target"), "memory", path)
    assert load_schema(path, "other.csv") is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.drop(columns="count"), r"column 'count' is missing"),
        (lambda f: f.rename(columns={"count": "n"}), r"column 'n' is not in the schema"),
        (lambda f: f.assign(count="many"), r"column 'count' breaks rule .*int64"),
        (lambda f: f.assign(size=f["size"] * 100), r"column 'size' breaks rule less_than"),
    ],
    ids=["missing-column", "renamed-column", "changed-type", "out-of-range"],
)
def test_schema_violation_names_column_and_rule(mixed_frame, schema, change, expected) -> None:
    with pytest.raises(PipelineError, match=expected):
        check(change(mixed_frame), schema=schema)


def test_corrupt_schema_file_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("source: memory\nschema: {columns: [oops\n")
    with pytest.raises(PipelineError, match="not a valid schema"):
        load_schema(path, "memory")


def test_failure_names_column_rule_and_partition(mixed_frame, schema, tmp_path: Path) -> None:
    """Data in partitions is checked a partition at a time: a failure names the partition
    (numbered from 0, files in name order) besides the column and the rule."""
    broken = mixed_frame.copy()
    broken.loc[65, "size"] = 1000.0  # in the fourth of four parts of 20 rows
    table = open_table(in_parts(broken, tmp_path / "parts", 4))
    with pytest.raises(PipelineError) as failure:
        validate(table, schema, SCHEMA, make_params())[0].to_pandas()
    message = str(failure.value)
    assert "column 'size' breaks rule less_than_or_equal_to" in message
    assert "1 row(s) of partition 3" in message
    assert PARTITIONS in message  # what a partition is, for this project's engine


def test_missing_targets_are_counted_over_partitions(mixed_frame, tmp_path: Path) -> None:
    frame = mixed_frame.astype({"target": float})
    frame.loc[[0, 30, 70], "target"] = None
    table = open_table(in_parts(frame, tmp_path / "parts", 4))
    valid, report = validate(table, None, SCHEMA, make_params())
    assert report["rows_dropped_missing_target"] == 3
    labelled = frame.dropna(subset=["target"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(valid.to_pandas(), labelled)


def test_a_class_with_one_row_passes(mixed_frame: pd.DataFrame) -> None:
    """A rare class is the split's business: it refuses one left without training rows."""
    frame = mixed_frame.assign(target=mixed_frame["target"].where(mixed_frame.index > 0, 7))
    _, report = check(frame)
    assert report["rows"] == 80


def test_inference_over_partitions_matches_the_whole(mixed_frame, tmp_path: Path) -> None:
    """Types from a sample; missing values and ranges from every partition: on data that
    fits, the schema is the one inferred from the whole frame."""
    frame = mixed_frame.copy()
    frame.loc[:19, "colour"] = "red"  # no missing colour in the first part
    frame.loc[79, "count"] = 40  # the largest count in the last part
    table = open_table(in_parts(frame, tmp_path / "parts", 4))
    assert infer(table, "target") == infer_schema(frame, "target")
