"""Stage validate: check the data against its schema and the task, and drop unlabelled rows.

Each partition is checked on its own and summarised; the summaries add up to the checks of
the whole table, so the data never has to fit in memory at once. The features derive.py
makes are checked on the first partition's head: columns no model can use fail here,
before training, and text that looks like an identifier gets a warning.
"""

import argparse
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandas.api import types

from ..errors import PipelineError
from ..params import Params, load_params
from ..pipeline.derivation import DERIVE_FILE, check_usable, derived
from ..pipeline.engine import Table, open_table, running
from ..pipeline.features import column_kinds
from ..pipeline.rows import sample
from ..pipeline.schema import (
    column_stats,
    combine_stats,
    enforce,
    infer_schema,
    load_schema,
    save_schema,
)

log = logging.getLogger(__name__)
# Rows a first run infers column types from; nullability and ranges come from every row.
INFERENCE_ROWS = 100_000
# Rows of the first partition derive.py's features are checked on; an identifier shows in
# far fewer.
DERIVED_SAMPLE_ROWS = 10_000
# Text with more distinct values than this share of its rows (and at least IDENTIFIER_ROWS
# rows) is likely an identifier: one-hot encoded, it only memorises rows.
IDENTIFIER_SHARE = 0.5
IDENTIFIER_ROWS = 20


@dataclass
class Summary:
    """What the checks need to know of a partition, or of several added up."""

    rows: int = 0
    dropped: int = 0  # rows with a missing target
    unusable: dict[str, str] = field(default_factory=dict)  # column -> dtype
    classes: Counter = field(default_factory=Counter)  # classification: label -> rows
    continuous: Any = None  # classification: a non-integer target value, if any
    distinct: set = field(default_factory=set)  # regression: up to two target values
    warnings: list = field(default_factory=list)  # of derive.py's features (partition 0)

    def __add__(self, other: "Summary") -> "Summary":
        return Summary(
            self.rows + other.rows,
            self.dropped + other.dropped,
            {**other.unusable, **self.unusable},
            self.classes + other.classes,
            self.continuous if self.continuous is not None else other.continuous,
            set(sorted(self.distinct | other.distinct)[:2]),
            self.warnings + other.warnings,
        )


def labelled_rows(
    partition: pd.DataFrame, number: int, target: str, schema, schema_path: str
) -> pd.DataFrame:
    """A partition's rows with a target, checked against the schema (when there is one)."""
    labelled = partition[partition[target].notna()]
    if schema is not None:
        labelled = enforce(schema, labelled, schema_path, number)
    return labelled


def summarise(
    partition: pd.DataFrame, number: int, target: str, task: str, schema, schema_path: str
) -> Summary:
    """Check one partition against the schema and count what the whole-table checks need."""
    labelled = labelled_rows(partition, number, target, schema, schema_path)
    values = labelled[target]
    features = labelled.drop(columns=[target])
    summary = Summary(
        rows=len(labelled),
        dropped=len(partition) - len(labelled),
        unusable=column_kinds(features).unusable,
    )
    if number == 0 and not summary.unusable:  # derive.py's features, checked on a head
        summary.warnings = feature_warnings(features.head(DERIVED_SAMPLE_ROWS))
    if task == "regression":
        summary.distinct = set(values.drop_duplicates().head(2).tolist())
    else:
        counts = values.value_counts()
        summary.classes = Counter(dict(zip(counts.index.tolist(), counts.tolist(), strict=True)))
        if types.is_float_dtype(values) and not (values % 1 == 0).all():
            summary.continuous = float(values[values % 1 != 0].iloc[0])
    return summary


def validate(
    table: Table, schema: pa.DataFrameSchema | None, schema_path: Path, params: Params
) -> tuple[Table, dict]:
    """Return the rows fit for training and a report; raise PipelineError naming the problem.

    Without a schema (the first run) only the target and the column kinds are checked.
    """
    target, task = params.data.target, params.task
    if target not in table.columns:
        raise PipelineError(
            f"data.target {target!r} is not a column of the data - set data.target in "
            f"params.yaml to one of: {', '.join(table.columns)}"
        )
    where = str(schema_path)
    total = sum(table.summarise(summarise, target, task, schema, where), Summary())
    if total.dropped:
        log.warning(
            "dropped %d of %d rows with a missing target %r",
            total.dropped,
            total.rows + total.dropped,
            target,
        )
    if not total.rows:
        raise PipelineError(f"the data has no rows with a value in target column {target!r}")
    if total.unusable:
        listed = ", ".join(f"{name!r} ({dtype})" for name, dtype in total.unusable.items())
        raise PipelineError(
            f"column(s) {listed} hold values the model cannot use - convert them to numbers, "
            "text or ISO 8601 dates, or drop them from the data"
        )
    check_target(total, table.meta[target].dtype, target, task)
    for warning in total.warnings:
        log.warning(warning)
    report = {
        "rows": total.rows,
        "rows_dropped_missing_target": total.dropped,
        "columns": len(table.columns) - 1,
        "warnings": total.warnings,
    }
    return table.map(labelled_rows, target, schema, where), report


def feature_warnings(raw: pd.DataFrame) -> list[str]:
    """Check the features derive.py makes of these rows (PipelineError for a column no model
    can use); warn of text columns that look like identifiers."""
    features = derived(raw)
    check_usable(features)
    warnings = []
    for name in column_kinds(features).categorical:
        present = features[name].dropna()
        distinct = present.nunique()
        if len(present) >= IDENTIFIER_ROWS and distinct > IDENTIFIER_SHARE * len(present):
            warnings.append(
                f"column {name!r} has {distinct} distinct values in {len(present)} rows: it "
                f"looks like an identifier, which the model can only memorise - drop it in "
                f"derive() in {DERIVE_FILE}"
            )
    return warnings


def check_target(summary: Summary, dtype, name: str, task: str) -> None:
    """Refuse a target that does not fit the task.

    A class with a single row is no longer refused here: the split decides each row on its
    own, and refuses a class that ends up with no training rows.
    """
    if task == "regression":
        if not types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype):
            raise PipelineError(
                f"target {name!r} is not numeric ({dtype}) - regression needs numbers; "
                "set task: classification in params.yaml for labels"
            )
        if len(summary.distinct) < 2:
            raise PipelineError(f"target {name!r} has a single value - nothing to learn")
        return
    if summary.continuous is not None:
        raise PipelineError(
            f"target {name!r} holds continuous values (e.g. {summary.continuous}) - "
            "classification needs labels; set task: regression in params.yaml"
        )
    if len(summary.classes) < 2:
        raise PipelineError(
            f"target {name!r} has a single class ({next(iter(summary.classes))!r}) - a "
            "classifier needs two or more"
        )


def infer(table: Table, target: str) -> pa.DataFrameSchema:
    """The schema of a table too large to hold: types from a sample of its rows, missing
    values and ranges from every row, so data that fits in memory gets today's schema."""
    stats = combine_stats(table.summarise(partition_stats))
    return infer_schema(sample(table, INFERENCE_ROWS, seed=0), target, stats)


def partition_stats(partition: pd.DataFrame, number: int) -> dict:
    return column_stats(partition)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="validate", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="Parquet data from ingest")
    parser.add_argument("--schema", type=Path, required=True, help="schema file (YAML)")
    parser.add_argument("--out", type=Path, required=True, help="validated Parquet data")
    parser.add_argument("--report", type=Path, required=True, help="report (JSON)")
    args = parser.parse_args(argv)
    params = load_params()
    schema = load_schema(args.schema, params.data.source)
    with running():
        valid, report = validate(open_table(args.data), schema, args.schema, params)
        if schema is None:
            save_schema(infer(valid, params.data.target), params.data.source, args.schema)
            log.warning(
                "inferred a schema for %s: review and commit %s", params.data.source, args.schema
            )
        valid.write(args.out)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    log.info("validated %d rows against %s", report["rows"], args.schema)
