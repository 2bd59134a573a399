"""Stage train: fit the pipeline named in params.yaml on the training rows."""

import argparse
import logging
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from ..errors import PipelineError
from ..params import Params, load_params
from ..pipeline.data import features_and_target
from ..pipeline.derive_step import DeriveStep
from ..pipeline.engine import Table, open_table, running
from ..pipeline.model import build_model, save_model
from ..pipeline.rows import count_rows, sample

log = logging.getLogger(__name__)
# Estimators that take n_jobs but fit in one process: since scikit-learn 1.8 setting it on
# LogisticRegression only warns (FutureWarning) that it has no effect.
IGNORE_N_JOBS = (LogisticRegression,)


def training_rows(table: Table, params: Params) -> pd.DataFrame:
    """The rows to fit on: all of them, or a sample of train.max_rows at most, the same
    rows on any engine and cluster (rows.py)."""
    cap, total = params.train.max_rows, count_rows(table)
    frame = sample(table, cap, params.train.seed, total=total)
    if len(frame) < total:
        log.info("trained on %d of %d rows (train.max_rows=%d)", len(frame), total, cap)
    return frame


def train(frame: pd.DataFrame, params: Params) -> Pipeline:
    """Fit derive, preprocessing and estimator as one pipeline, so serving repeats exactly
    the same steps."""
    raw, target = features_and_target(frame, params.data.target)
    derive = DeriveStep()
    features = derive.fit_transform(raw)  # derive() once: the rest is fitted on its output
    settings = params.train
    chosen = settings.estimator_params
    model = build_model(derive, features, params.task, settings.estimator, chosen, settings.seed)
    # Every core (on Dask: every worker, through joblib's dask backend) for the estimator's
    # own parallel work: a forest seeds its trees up front, so any number of them grows the
    # same trees. n_jobs is set back before the model is saved, so its bytes do not depend
    # on the machine either.
    estimator = model[-1]
    uses_n_jobs = not isinstance(estimator, IGNORE_N_JOBS)
    unset = uses_n_jobs and estimator.get_params().get("n_jobs", 0) is None
    if unset:
        estimator.set_params(n_jobs=-1)
    try:
        model[1:].fit(features, target)  # the same step objects: `model` is fitted whole
        return model
    except ValueError as error:
        raise PipelineError(
            f"training {settings.estimator} failed: {error} - check train.{settings.estimator} "
            "in params.yaml"
        ) from error
    finally:
        if unset:
            estimator.set_params(n_jobs=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="train", description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training rows (Parquet)")
    parser.add_argument("--model", type=Path, required=True, help="fitted pipeline to write")
    args = parser.parse_args(argv)
    params = load_params()
    with running():
        model = train(training_rows(open_table(args.train), params), params)
    # joblib's format, for the pipeline's stages; deploy builds a safe format from it.
    save_model(model, args.model)
    log.info("trained %s on %s", params.train.estimator, args.train)
