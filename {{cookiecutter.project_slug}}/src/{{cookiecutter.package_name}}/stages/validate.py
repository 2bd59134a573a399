"""Stage validate: check the data against its schema and the task, and drop unlabelled rows."""

import argparse
import json
import logging
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandas.api import types

from ..errors import PipelineError
from ..params import Params, load_params
from ..pipeline.data import read_table, write_table
from ..pipeline.features import column_kinds
from ..pipeline.schema import enforce, infer_schema, load_schema, save_schema

log = logging.getLogger(__name__)


def validate(
    frame: pd.DataFrame, schema: pa.DataFrameSchema | None, schema_path: Path, params: Params
) -> tuple[pd.DataFrame, dict]:
    """Return the rows fit for training and a report; raise PipelineError naming the problem.

    Without a schema (the first run) only the target and the column kinds are checked.
    """
    target, task = params.data.target, params.task
    if target not in frame.columns:
        raise PipelineError(
            f"data.target {target!r} is not a column of the data - set data.target in "
            f"params.yaml to one of: {', '.join(map(str, frame.columns))}"
        )
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    dropped = len(frame) - len(labelled)
    if dropped:
        log.warning("dropped %d of %d rows with a missing target %r", dropped, len(frame), target)
    if labelled.empty:
        raise PipelineError(f"the data has no rows with a value in target column {target!r}")
    if schema is not None:
        labelled = enforce(schema, labelled, schema_path)
    features = labelled.drop(columns=[target])
    unusable = column_kinds(features).unusable
    if unusable:
        listed = ", ".join(f"{name!r} ({dtype})" for name, dtype in unusable.items())
        raise PipelineError(
            f"column(s) {listed} hold values the model cannot use - convert them to numbers "
            "or text, or drop them from the data"
        )
    check_target(labelled[target], target, task)
    report = {
        "rows": len(labelled),
        "rows_dropped_missing_target": dropped,
        "columns": len(features.columns),
    }
    return labelled, report


def check_target(values: pd.Series, name: str, task: str) -> None:
    """Refuse a target that does not fit the task."""
    if task == "regression":
        if not types.is_numeric_dtype(values) or types.is_bool_dtype(values):
            raise PipelineError(
                f"target {name!r} is not numeric ({values.dtype}) - regression needs numbers; "
                "set task: classification in params.yaml for labels"
            )
        if values.nunique() < 2:
            raise PipelineError(f"target {name!r} has a single value - nothing to learn")
        return
    if types.is_float_dtype(values) and not (values % 1 == 0).all():
        example = values[values % 1 != 0].iloc[0]
        raise PipelineError(
            f"target {name!r} holds continuous values (e.g. {example}) - classification needs "
            "labels; set task: regression in params.yaml"
        )
    counts = values.value_counts()
    if len(counts) < 2:
        raise PipelineError(
            f"target {name!r} has a single class ({counts.index[0]!r}) - a classifier needs two "
            "or more"
        )
    rare = counts[counts < 2]
    if not rare.empty:
        raise PipelineError(
            f"target {name!r} has classes with a single row ({', '.join(map(repr, rare.index))})"
            " - a stratified split needs two rows per class; add rows or drop those classes"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="validate", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="Parquet file from ingest")
    parser.add_argument("--schema", type=Path, required=True, help="schema file (YAML)")
    parser.add_argument("--out", type=Path, required=True, help="validated Parquet file")
    parser.add_argument("--report", type=Path, required=True, help="report (JSON)")
    args = parser.parse_args(argv)
    params = load_params()
    frame = read_table(args.data)
    schema = load_schema(args.schema, params.data.source)
    valid, report = validate(frame, schema, args.schema, params)
    if schema is None:
        save_schema(infer_schema(valid, params.data.target), params.data.source, args.schema)
        log.warning(
            "inferred a schema for %s: review and commit %s", params.data.source, args.schema
        )
    write_table(valid, args.out)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    log.info("validated %d rows against %s", report["rows"], args.schema)
