"""Stage profile: the reference for drift monitoring, published with each model version.

Per feature of the training rows: quantile bins and the empirical CDF for numbers,
category frequencies for text, and the missing rate; plus the distribution of the model's
predictions on the test rows. `python -m <package> monitor` compares batches with it.
"""

import argparse
import json
import logging
from pathlib import Path

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from ..params import Params, load_params
from ..pipeline.data import features_and_target, read_table
from ..pipeline.features import column_kinds, model_inputs
from ..pipeline.profiling import categorical_summary, numeric_summary

log = logging.getLogger(__name__)


def profile(model: Pipeline, train: pd.DataFrame, test: pd.DataFrame, params: Params) -> dict:
    """Summarise the model's input columns in the training rows, and its test predictions."""
    target = params.data.target
    features = model_inputs(model, train)
    kinds = column_kinds(features)
    columns = {name: numeric_summary(features[name]) for name in kinds.numeric}
    columns |= {name: categorical_summary(features[name]) for name in kinds.categorical}
    test_features, _ = features_and_target(test, target)
    predictions = pd.Series(model.predict(model_inputs(model, test_features)))
    if params.task == "classification":
        predicted = categorical_summary(predictions.astype(str))
    else:
        predicted = numeric_summary(predictions.astype(float))
    return {
        "rows": len(train),
        "target": target,
        "features": dict(sorted(columns.items())),
        "predictions": predicted,
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
    reference = profile(model, read_table(args.train), read_table(args.test), params)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, indent=2) + "\n")
    log.info("profiled %d features of %d rows", len(reference["features"]), reference["rows"])
