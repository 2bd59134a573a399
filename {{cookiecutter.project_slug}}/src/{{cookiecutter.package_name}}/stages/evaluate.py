"""Stage evaluate: score the model on the test rows and write metrics and plot data."""

import argparse
import json
import logging
from pathlib import Path

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from ..params import Params, load_params
from ..pipeline.data import features_and_target, read_table
from ..pipeline.features import model_inputs
from ..pipeline.metrics import classification_report, importance_table, regression_report

log = logging.getLogger(__name__)
DIGITS = 6  # enough for any comparison, short enough to read in `dvc metrics diff`


def evaluate(
    model: Pipeline, test: pd.DataFrame, params: Params
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Return the metrics and the plot tables, keyed by file name."""
    features, actual = features_and_target(test, params.data.target)
    features = model_inputs(model, features)
    report = classification_report if params.task == "classification" else regression_report
    scores, plots = report(model, features, actual)
    settings = params.evaluate
    plots["importance.csv"] = importance_table(
        model,
        features,
        actual,
        settings.importance_repeats,
        settings.importance_max_rows,
        params.train.seed,
    )
    return {name: round(float(value), DIGITS) for name, value in scores.items()}, plots


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="evaluate", description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="fitted pipeline")
    parser.add_argument("--test", type=Path, required=True, help="test rows (Parquet)")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics file (JSON)")
    parser.add_argument("--plots", type=Path, required=True, help="folder for plot data")
    args = parser.parse_args(argv)
    params = load_params()
    scores, plots = evaluate(joblib.load(args.model), read_table(args.test), params)
    args.metrics.parent.mkdir(parents=True, exist_ok=True)
    args.metrics.write_text(json.dumps(scores, indent=2) + "\n")
    args.plots.mkdir(parents=True, exist_ok=True)
    for name, table in plots.items():
        table.to_csv(args.plots / name, index=False, float_format="%.6g")
    log.info("metrics: %s", ", ".join(f"{name}={value:.4f}" for name, value in scores.items()))
