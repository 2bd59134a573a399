"""Infer a data schema once, keep it in git, and enforce it on every later run.

The schema records the data source it was inferred from: pointing data.source at other
data infers a fresh schema, while new data from the same source must follow the old rules.
"""

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import yaml

from ..errors import PipelineError

# Inferred bounds reach one observed range (max - min) beyond the observed min and max:
# wide enough for data that drifts (the monitor's business, not a reason to stop
# retraining), tight enough to catch a wrong unit or a sign error.
SLACK = 1.0

HEADER = """\
# Rules the validate stage enforces on the data from `source`, inferred from its first
# version. Edit a rule to loosen or tighten it, or delete this file to infer it again.
"""


def widened_bounds(values: pd.Series) -> list[pa.Check]:
    """Range checks around the observed values, kept non-negative if they all were."""
    low, high = float(values.min()), float(values.max())
    span = SLACK * ((high - low) or abs(high) or 1.0)
    lower = max(low - span, 0.0) if low >= 0 else low - span
    return [
        pa.Check.greater_than_or_equal_to(float(f"{lower:.6g}")),
        pa.Check.less_than_or_equal_to(float(f"{high + span:.6g}")),
    ]


def infer_schema(frame: pd.DataFrame, target: str) -> pa.DataFrameSchema:
    """Infer column types, nullability and value ranges; unknown columns are refused."""
    inferred = pa.infer_schema(frame)
    schema = pa.DataFrameSchema(inferred.columns, strict=True, coerce=True)
    for name, column in inferred.columns.items():
        values = frame[name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if column.checks and numeric and values.notna().any():
            schema = schema.update_column(name, checks=widened_bounds(values.dropna()))
    # Rows with a missing target are dropped and counted, not refused.
    return schema.update_column(target, nullable=True)


def save_schema(schema: pa.DataFrameSchema, source: str, path: Path) -> None:
    """Write the schema with the source it describes."""
    document = {"source": source, "schema": yaml.safe_load(schema.to_yaml())}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + yaml.safe_dump(document, sort_keys=False))


def load_schema(path: Path, source: str) -> pa.DataFrameSchema | None:
    """Return the saved schema for this source, or None when there is none yet."""
    if not path.exists():
        return None
    try:
        document = yaml.safe_load(path.read_text())
        if document.get("source") != source:
            return None
        return pa.DataFrameSchema.from_yaml(yaml.safe_dump(document["schema"]))
    except Exception as error:  # pandera raises several types for a malformed schema
        raise PipelineError(
            f"{path} is not a valid schema ({error}) - fix it, or delete it to infer it again"
        ) from error


def enforce(schema: pa.DataFrameSchema, frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Validate the frame, raising one message that names every failing column and rule."""
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        lines = describe_failures(errors.failure_cases)
        raise PipelineError(
            f"the data does not match {path}:\n"
            + "\n".join(f"  {line}" for line in lines)
            + f"\nIf the data changed on purpose, edit or delete {path} and rerun."
        ) from errors


def describe_failures(cases: pd.DataFrame) -> list[str]:
    """Turn pandera's failure cases into one line per column and rule."""
    lines = []
    cases = cases.astype({"check": str}).fillna({"column": ""})
    broken_types = set(cases.loc[cases["check"].str.contains("dtype"), "column"])
    for (column, check), group in cases.groupby(["column", "check"], sort=True):
        if column in broken_types and "dtype" not in check:
            continue  # a range check on a column of the wrong type adds nothing
        if check == "column_in_schema":
            for name in sorted(group["failure_case"].astype(str)):
                lines.append(f"column {name!r} is not in the schema (rule: column_in_schema)")
        elif check == "column_in_dataframe":
            for name in sorted(group["failure_case"].astype(str)):
                lines.append(f"column {name!r} is missing (rule: column_in_dataframe)")
        else:
            examples = ", ".join(repr(value) for value in group["failure_case"].head(3))
            lines.append(
                f"column {column!r} breaks rule {check} in {len(group)} row(s), e.g. {examples}"
            )
    return lines
