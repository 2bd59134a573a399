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

from ..data import features_and_target, read_table
from ..drift import categorical_summary, numeric_summary
from ..features import column_kinds
from ..params import load_params

log = logging.getLogger(__name__)


def profile(train: pd.DataFrame, target: str, predictions: pd.Series, task: str) -> dict:
    """Summarise every feature column of the training rows, and the test predictions."""
    features = train.drop(columns=[target])
    kinds = column_kinds(features)
    columns = {name: numeric_summary(features[name]) for name in kinds.numeric}
    columns |= {name: categorical_summary(features[name]) for name in kinds.categorical}
    if task == "classification":
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
    test_features, _ = features_and_target(read_table(args.test), params.data.target)
    predictions = pd.Series(joblib.load(args.model).predict(test_features))
    reference = profile(read_table(args.train), params.data.target, predictions, params.task)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, indent=2) + "\n")
    log.info("profiled %d features of %d rows", len(reference["features"]), reference["rows"])
