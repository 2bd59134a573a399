"""Stage profile: the reference for drift monitoring, published with each model version.

Per raw input column of the training rows that reaches the model's features as it is (the
columns clients send, before derive.py): quantile bins and the empirical CDF for numbers,
category frequencies for text, and the missing rate; plus the distribution of the model's
predictions on the test rows. A column derive() drops or turns into others (an identifier,
a date: a batch's dates are later than training's by nature) is listed among the inputs,
with its missing rate, but its values are not profiled: the monitor watches that rate.
`python -m <package> monitor` compares batches with it.

The bins and ECDF points come from a deterministic sample (pipeline/profiling.py says why
its size); each partition then counts on them, and the counts are summed.
"""

import argparse
import json
import logging
from pathlib import Path

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from ..params import Params, load_params
from ..pipeline import profiling, rows
from ..pipeline.data import features_and_target
from ..pipeline.engine import Table, open_table, running
from ..pipeline.features import column_kinds, input_types, model_inputs

log = logging.getLogger(__name__)


def feature_counts(
    frame: pd.DataFrame, number: int, grids: dict, categorical: list, inputs: list
) -> dict:
    """One partition's rows and counts: numeric features on their grids, categories by name,
    and every input's missing values."""
    counts = {name: profiling.numeric_counts(frame[name], grid) for name, grid in grids.items()}
    counts |= {name: profiling.category_counts(frame[name]) for name in categorical}
    missing = {name: int(frame[name].isna().sum()) for name in inputs}
    return {"rows": len(frame), "columns": counts, "missing": missing}


def predicted(frame: pd.DataFrame, model: Pipeline, target: str) -> pd.Series:
    """The model's predictions for the rows of a partition."""
    if not len(frame):
        return pd.Series([], dtype=float)
    features, _ = features_and_target(frame, target)
    return pd.Series(model.predict(model_inputs(model, features)))


def class_counts(frame: pd.DataFrame, number: int, model: Pipeline, target: str) -> dict:
    return profiling.category_counts(predicted(frame, model, target).astype(str))


def value_counts(frame: pd.DataFrame, number: int, model: Pipeline, target: str, grid) -> dict:
    return profiling.numeric_counts(predicted(frame, model, target).astype(float), grid)


def profile(model: Pipeline, train: Table, test: Table, params: Params) -> dict:
    """Summarise the model's raw input columns in the training rows, and its test
    predictions."""
    target = params.data.target
    sample = model_inputs(model, rows.sample(train, profiling.SAMPLE_ROWS, profiling.SAMPLE_SEED))
    # The raw columns the model's features keep as they are: a column derive() drops (an
    # identifier) or turns into others (a date) tells nothing about the model's inputs.
    kept = set(model.named_steps["derive"].features_out_)
    kinds = column_kinds(sample[[name for name in sample.columns if name in kept]])
    grids = {name: profiling.numeric_grid(sample[name]) for name in kinds.numeric}
    parts = train.summarise(feature_counts, grids, kinds.categorical, list(sample.columns))
    columns = {
        name: profiling.numeric_summary_of(
            profiling.merge_numeric([part["columns"][name] for part in parts]), grid
        )
        for name, grid in grids.items()
    }
    columns |= {
        name: profiling.categorical_summary_of(
            profiling.merge_categories([part["columns"][name] for part in parts])
        )
        for name in kinds.categorical
    }
    if params.task == "classification":
        merged = profiling.merge_categories(test.summarise(class_counts, model, target))
        predictions = profiling.categorical_summary_of(merged)
    else:
        test_sample = rows.sample(test, profiling.SAMPLE_ROWS, profiling.SAMPLE_SEED)
        grid = profiling.numeric_grid(predicted(test_sample, model, target).astype(float))
        counts = profiling.merge_numeric(test.summarise(value_counts, model, target, grid))
        predictions = profiling.numeric_summary_of(counts, grid)
    total = sum(part["rows"] for part in parts)
    inputs = [
        {**entry, "missing_rate": sum(part["missing"][entry["name"]] for part in parts) / total}
        for entry in input_types(sample)
    ]
    return {
        "rows": total,
        "target": target,
        "inputs": inputs,
        "features": dict(sorted(columns.items())),
        "predictions": predictions,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="profile", description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training rows (Parquet)")
    parser.add_argument("--test", type=Path, required=True, help="test rows (Parquet)")
    parser.add_argument("--model", type=Path, required=True, help="trained model (joblib)")
    parser.add_argument("--out", type=Path, required=True, help="reference profile (JSON)")
    args = parser.parse_args(argv)
    params = load_params()
    model = joblib.load(args.model)
    with running():
        reference = profile(model, open_table(args.train), open_table(args.test), params)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, indent=2) + "\n")
    log.info("profiled %d features of %d rows", len(reference["features"]), reference["rows"])
