"""Build the model: a scikit-learn Pipeline that derives the features (derive.py), imputes,
scales and encodes them, then predicts."""

from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from joblib.numpy_pickle import NumpyPickler
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..errors import PipelineError
from .derivation import check_usable
from .derive_step import DeriveStep
from .features import column_kinds

ESTIMATORS: dict[str, dict[str, type]] = {
    "classification": {
        "random_forest": RandomForestClassifier,
        "gradient_boosting": HistGradientBoostingClassifier,
        "linear": LogisticRegression,
    },
    "regression": {
        "random_forest": RandomForestRegressor,
        "gradient_boosting": HistGradientBoostingRegressor,
        "linear": Ridge,
    },
}
# Defaults that differ from scikit-learn's: enough iterations for unscaled real-world data.
DEFAULTS: dict[type, dict[str, Any]] = {LogisticRegression: {"max_iter": 2000}}


def make_estimator(task: str, name: str, params: dict[str, Any], seed: int):
    """Create the estimator named in params.yaml, seeded when it is random."""
    cls = ESTIMATORS[task][name]
    kwargs = {**DEFAULTS.get(cls, {}), **params}
    if "random_state" in cls().get_params():
        kwargs.setdefault("random_state", seed)
    try:
        return cls(**kwargs)
    except TypeError as error:
        valid = ", ".join(sorted(cls().get_params()))
        raise PipelineError(
            f"train.{name} holds a key {cls.__name__} does not take ({error}) - valid: {valid}"
        ) from error


def make_preprocessor(features: pd.DataFrame) -> ColumnTransformer:
    """Impute and scale numeric columns; one-hot encode the rest, missing as its own level."""
    check_usable(features)
    kinds = column_kinds(features)
    numeric_steps = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical_steps = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return ColumnTransformer(
        [
            ("numeric", numeric_steps, kinds.numeric),
            ("categorical", categorical_steps, kinds.categorical),
        ],
        verbose_feature_names_out=False,
    )


def build_model(
    derive: DeriveStep, features: pd.DataFrame, task: str, name: str, params: dict, seed: int
) -> Pipeline:
    """The pipeline, around a derive step already fitted on the raw columns (`features`:
    what it made of them): preprocessing and the estimator, still to fit on those."""
    return Pipeline(
        [
            ("derive", derive),
            ("preprocess", make_preprocessor(features)),
            ("estimator", make_estimator(task, name, params, seed)),
        ]
    )


def save_model(model: Pipeline, path: Path) -> None:
    """Write the model in joblib's format (joblib.load reads it), in bytes that depend on
    the model alone, so dvc.lock repeats on any engine and cluster."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        CanonicalPickler(file).dump(model)


class CanonicalPickler(NumpyPickler):
    """joblib's pickler, with equal strings and dtypes written once whichever object holds them.

    pickle writes an object once and refers back to it where the same object recurs, so
    its bytes follow which objects are shared, and that depends on where the model was
    fitted: trees grown on Dask workers come back holding their own copies of strings
    ("gini", "median") and dtypes that a local fit shares. Here equal values are one object
    before pickle looks, so the bytes follow the values only.
    """

    def __init__(self, file: BinaryIO, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.canonical: dict = {}

    def save(self, obj, *args, **kwargs):
        if type(obj) in (str, bytes) or (isinstance(obj, np.dtype) and obj.metadata is None):
            obj = self.canonical.setdefault((type(obj), obj), obj)
        return super().save(obj, *args, **kwargs)
