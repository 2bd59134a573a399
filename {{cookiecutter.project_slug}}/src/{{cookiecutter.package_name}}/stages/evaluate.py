"""Stage evaluate: score the model on the test rows and write metrics and plot data.

The test rows are scored partition by partition (on the workers with compute=dask) into
one small frame per partition: the actual value, the prediction and, for a classifier, the
class probabilities. The metrics and plots come from those frames together; permutation
importance from a deterministic sample of evaluate.importance_max_rows test rows.
"""

import argparse
import json
import logging
import math
from pathlib import Path

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from ..params import Params, load_params
from ..pipeline import rows
from ..pipeline.data import features_and_target
from ..pipeline.engine import Table, open_table, running
from ..pipeline.features import model_inputs
from ..pipeline.metrics import classification_report, importance_table, regression_report

log = logging.getLogger(__name__)
DIGITS = 6  # enough for any comparison, short enough to read in `dvc metrics diff`
ACTUAL, PREDICTED, SCORE = "actual", "predicted", "score_"
# Rows a plot file keeps at most: plots are committed to git, and a table of one row per
# test row (confusion, predicted vs actual) or a curve of one point per threshold grows
# with the data. Beyond it every k-th row is kept, which keeps the proportions.
PLOT_ROWS = 10_000


def scored(frame: pd.DataFrame, number: int, model: Pipeline, target: str) -> pd.DataFrame:
    """One partition's actual values, predictions and (classifiers) class probabilities,
    the latter in the columns score_0, score_1, ... in the order of model.classes_."""
    if not len(frame):
        return pd.DataFrame()
    features, actual = features_and_target(frame, target)
    features = model_inputs(model, features)
    result = {ACTUAL: actual.to_numpy(), PREDICTED: model.predict(features)}
    if hasattr(model, "predict_proba"):
        for i, column in enumerate(model.predict_proba(features).T):
            result[f"{SCORE}{i}"] = column
    return pd.DataFrame(result)


def evaluate(model: Pipeline, test: Table, params: Params) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Return the metrics and the plot tables, keyed by file name."""
    target = params.data.target
    parts = [part for part in test.summarise(scored, model, target) if len(part)]
    outputs = pd.concat(parts, ignore_index=True)
    actual, predicted = outputs[ACTUAL], outputs[PREDICTED].to_numpy()
    if params.task == "classification":
        scores = outputs[[f"{SCORE}{i}" for i in range(len(model.classes_))]].to_numpy()
        metrics, plots = classification_report(actual, predicted, scores, model.classes_)
    else:
        metrics, plots = regression_report(actual, predicted)
    settings = params.evaluate
    sample = rows.sample(test, settings.importance_max_rows, params.train.seed)
    features, sample_actual = features_and_target(sample, target)
    plots["importance.csv"] = importance_table(
        model,
        model_inputs(model, features),
        sample_actual,
        settings.importance_repeats,
        settings.importance_max_rows,
        params.train.seed,
    )
    plots = {name: thinned(table, PLOT_ROWS) for name, table in plots.items()}
    return {name: round(float(value), DIGITS) for name, value in metrics.items()}, plots


def thinned(table: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Every k-th row of a table longer than limit, and its last row (a curve's end)."""
    if len(table) <= limit:
        return table
    step = math.ceil(len(table) / limit)
    kept = list(range(0, len(table), step))
    if kept[-1] != len(table) - 1:
        kept.append(len(table) - 1)
    return table.iloc[kept].reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="evaluate", description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="fitted pipeline")
    parser.add_argument("--test", type=Path, required=True, help="test rows (Parquet)")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics file (JSON)")
    parser.add_argument("--plots", type=Path, required=True, help="folder for plot data")
    args = parser.parse_args(argv)
    params = load_params()
    with running():
        scores, plots = evaluate(joblib.load(args.model), open_table(args.test), params)
    args.metrics.parent.mkdir(parents=True, exist_ok=True)
    args.metrics.write_text(json.dumps(scores, indent=2) + "\n")
    args.plots.mkdir(parents=True, exist_ok=True)
    for name, table in plots.items():
        table.to_csv(args.plots / name, index=False, float_format="%.6g")
    log.info("metrics: %s", ", ".join(f"{name}={value:.4f}" for name, value in scores.items()))
