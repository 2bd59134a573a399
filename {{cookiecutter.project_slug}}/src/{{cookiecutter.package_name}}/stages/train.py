"""Stage train: fit the pipeline named in params.yaml on the training rows."""

import argparse
import logging
from pathlib import Path

import joblib
import pandas as pd
from joblib import parallel_config
from sklearn.pipeline import Pipeline

from ..errors import PipelineError
from ..params import Params, load_params
from ..pipeline.data import features_and_target, read_table
from ..pipeline.model import build_model

log = logging.getLogger(__name__)


def train(frame: pd.DataFrame, params: Params) -> Pipeline:
    """Fit preprocessing and estimator together, so serving repeats exactly the same steps."""
    features, target = features_and_target(frame, params.data.target)
    settings = params.train
    model = build_model(features, params.task, settings.estimator, settings.params, settings.seed)
    try:
        # Every core: a forest's trees are seeded up front, so the model is the same on any count.
        with parallel_config(n_jobs=-1):
            return model.fit(features, target)
    except ValueError as error:
        raise PipelineError(
            f"training {settings.estimator} failed: {error} - check train.params in params.yaml"
        ) from error


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="train", description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training rows (Parquet)")
    parser.add_argument("--model", type=Path, required=True, help="fitted pipeline to write")
    args = parser.parse_args(argv)
    params = load_params()
    model = train(read_table(args.train), params)
    args.model.parent.mkdir(parents=True, exist_ok=True)
    # joblib's pickle is byte-stable, so dvc.lock hashes repeat; deploy builds a safe format.
    joblib.dump(model, args.model)
    log.info("trained %s on %s", params.train.estimator, args.train)
