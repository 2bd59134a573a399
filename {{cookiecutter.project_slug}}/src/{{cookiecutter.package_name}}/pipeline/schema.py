"""Infer a data schema once, keep it in git, and enforce it on every later run.

The schema records the data source it was inferred from: pointing data.source at other
data infers a fresh schema, while new data from the same source must follow the old rules.
"""

from pathlib import Path
from typing import NamedTuple, cast

import pandas as pd
import pandera.pandas as pa
import yaml
from pandas.api import types

from ..errors import PipelineError

# Inferred bounds reach one observed range (max - min) beyond the observed min and max:
# wide enough for data that drifts (the monitor's business, not a reason to stop
# retraining), tight enough to catch a wrong unit or a sign error.
SLACK = 1.0

# How a failure's partition number reads: the stage checks the data a partition at a time.
{%- if cookiecutter.compute == "dask" %}
PARTITIONS = (
    "(A partition is a block of rows the stage reads, numbered from 0 in file order: about "
    "one per Parquet file of its input, or a slice of a large file.)"
)
{%- else %}
PARTITIONS = "(compute=local reads the stage's input as one block, partition 0.)"
{%- endif %}
HEADER = """\
# Rules the validate stage enforces on the data from `source`, inferred from its first
# version. Edit a rule to loosen or tighten it, or delete this file to infer it again.
"""


def widened_bounds(low: float, high: float) -> list[pa.Check]:
    """Range checks around the observed values, kept non-negative if they all were."""
    span = SLACK * ((high - low) or abs(high) or 1.0)
    lower = max(low - span, 0.0) if low >= 0 else low - span
    return [
        pa.Check.greater_than_or_equal_to(float(f"{lower:.6g}")),
        pa.Check.less_than_or_equal_to(float(f"{high + span:.6g}")),
    ]


class ColumnStats(NamedTuple):
    """What inference needs of a column's values beyond its type; partitions' stats add up."""

    missing: int
    low: float | None  # None: not numeric, or no value present
    high: float | None


def column_stats(frame: pd.DataFrame) -> dict[str, ColumnStats]:
    """Each column's missing values, and the range of a numeric column's values."""
    stats = {}
    for name, values in frame.items():
        present = values.dropna()
        numeric = types.is_numeric_dtype(values) and not types.is_bool_dtype(values)
        ranged = numeric and not present.empty
        stats[str(name)] = ColumnStats(
            int(values.isna().sum()),
            float(present.min()) if ranged else None,
            float(present.max()) if ranged else None,
        )
    return stats


def combine_stats(parts: list[dict[str, ColumnStats]]) -> dict[str, ColumnStats]:
    """The stats of the whole table from its partitions' stats."""
    combined: dict[str, ColumnStats] = {}
    for part in parts:
        for name, stats in part.items():
            seen = combined.get(name, ColumnStats(0, None, None))
            lows = [value for value in (seen.low, stats.low) if value is not None]
            highs = [value for value in (seen.high, stats.high) if value is not None]
            combined[name] = ColumnStats(
                seen.missing + stats.missing,
                min(lows) if lows else None,
                max(highs) if highs else None,
            )
    return combined


def infer_schema(
    sample: pd.DataFrame, target: str, stats: dict[str, ColumnStats] | None = None
) -> pa.DataFrameSchema:
    """Infer column types from a sample of the rows, and nullability and value ranges from
    the stats of all of them (by default the sample's own); unknown columns are refused."""
    stats = stats if stats is not None else column_stats(sample)
    # A DataFrame's schema: with pandas untyped here, mypy cannot pick pandera's overload.
    inferred = cast(pa.DataFrameSchema, pa.infer_schema(sample))
    schema = pa.DataFrameSchema(inferred.columns, strict=True, coerce=True)
    for name, column in inferred.columns.items():
        seen = stats[str(name)]
        schema = schema.update_column(name, nullable=seen.missing > 0)
        if column.checks and seen.low is not None and seen.high is not None:
            schema = schema.update_column(name, checks=widened_bounds(seen.low, seen.high))
        elif column.checks:  # a date range: later data is later by nature, never an error
            schema = schema.update_column(name, checks=[])
    # Rows with a missing target are dropped and counted, not refused.
    return schema.update_column(target, nullable=True)


def save_schema(schema: pa.DataFrameSchema, source: str, path: Path) -> None:
    """Write the schema with the source it describes."""
    text = cast(str, schema.to_yaml())  # without a stream to write to, the YAML text
    document = {"source": source, "schema": yaml.safe_load(text)}
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


def enforce(
    schema: pa.DataFrameSchema, frame: pd.DataFrame, path: Path | str, partition: int = 0
) -> pd.DataFrame:
    """Validate one partition of the data, raising one message that names every failing
    column and rule, and the partition."""
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        lines = describe_failures(errors.failure_cases, partition)
    # Raised outside the except block: the message names every column, rule and partition,
    # and pandera's errors would lose their state (with a warning) in Dask's pickling.
    raise PipelineError(
        f"the data does not match {path}:\n"
        + "\n".join(f"  {line}" for line in lines)
        + f"\n{PARTITIONS}\nIf the data changed on purpose, edit or delete {path} and rerun."
    )


def describe_failures(cases: pd.DataFrame, partition: int = 0) -> list[str]:
    """Turn pandera's failure cases into one line per column and rule."""
    lines = []
    where = f"partition {partition}"
    cases = cases.astype({"check": str}).fillna({"column": ""})
    broken_types = set(cases.loc[cases["check"].str.contains("dtype"), "column"])
    for (column, check), group in cases.groupby(["column", "check"], sort=True):
        if column in broken_types and "dtype" not in check:
            continue  # a range check on a column of the wrong type adds nothing
        if check == "column_in_schema":
            for name in sorted(group["failure_case"].astype(str)):
                lines.append(
                    f"column {name!r} is not in the schema (rule: column_in_schema, {where})"
                )
        elif check == "column_in_dataframe":
            for name in sorted(group["failure_case"].astype(str)):
                lines.append(f"column {name!r} is missing (rule: column_in_dataframe, {where})")
        else:
            examples = ", ".join(repr(value) for value in group["failure_case"].head(3))
            lines.append(
                f"column {column!r} breaks rule {check} in {len(group)} row(s) of {where}, "
                f"e.g. {examples}"
            )
    return lines
