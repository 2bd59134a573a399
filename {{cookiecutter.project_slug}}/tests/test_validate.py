from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.pipeline.schema import infer_schema, load_schema, save_schema
from {{ cookiecutter.package_name }}.stages.validate import validate

from .conftest import make_params

SCHEMA = Path("schema.yaml")


def check(frame: pd.DataFrame, task: str = "classification", schema=None):
    return validate(frame, schema, SCHEMA, make_params(task))


def test_valid_data_passes(mixed_frame: pd.DataFrame) -> None:
    """Clean data passes whole, and the report counts it."""
    valid, report = check(mixed_frame)
    assert len(valid) == len(mixed_frame)
    assert report == {"rows": 80, "rows_dropped_missing_target": 0, "columns": 3}


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


def test_text_target_fails_regression(mixed_frame: pd.DataFrame) -> None:
    with pytest.raises(PipelineError, match="not numeric"):
        labels = mixed_frame["target"].map({0: "no", 1: "yes"})
        check(mixed_frame.assign(target=labels), "regression")


def test_unusable_column_is_named(mixed_frame: pd.DataFrame) -> None:
    """A column the pipeline cannot encode fails naming the column and its type."""
    frame = mixed_frame.assign(when=pd.Timestamp("2024-01-01"))
    with pytest.raises(PipelineError, match=r"'when' \(datetime64"):
        check(frame)


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
