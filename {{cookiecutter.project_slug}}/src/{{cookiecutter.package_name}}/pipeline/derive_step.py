"""The model's first step: derive.py's features from the raw columns, checked.

The step keeps no code, only names: loading a model (joblib in the pipeline, skops when
serving) finds `derive` in this project, so the hash of derive.py taken at training is
what tells a model apart from code it was not trained with.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import PipelineError
from . import derivation
from .derivation import DERIVE_FILE, derived


class DeriveMismatch(PipelineError):
    """A model whose derive step this project's code cannot run as at its training."""


class DeriveStep(TransformerMixin, BaseEstimator):
    """Run derive() on the raw columns the model was fitted on, and hold it to its rules:
    the columns it returned at training, for any rows."""

    def fit(self, X: pd.DataFrame, y=None) -> "DeriveStep":
        self._fit(X, derived(X))
        return self

    def fit_transform(self, X: pd.DataFrame, y=None, **fit_params) -> pd.DataFrame:
        features = derived(X)  # once: Pipeline.fit calls this, not fit then transform
        self._fit(X, features)
        return features

    def _fit(self, raw: pd.DataFrame, features: pd.DataFrame) -> None:
        self.feature_names_in_ = np.asarray([str(name) for name in raw.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.features_out_ = [str(name) for name in features.columns]
        self.code_hash_ = derivation.code_hash()

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        inputs = [str(name) for name in self.feature_names_in_]
        missing = [name for name in inputs if name not in X.columns]
        if missing:
            raise PipelineError(
                f"the rows lack raw column(s) the model takes: {', '.join(missing[:10])}"
            )
        features = derived(X[inputs])
        if list(features.columns) != self.features_out_:
            raise PipelineError(
                f"derive() in {DERIVE_FILE} returned columns {list(features.columns)[:10]} "
                f"for these rows, {self.features_out_[:10]} at training - it must return the "
                "same columns for any rows"
            )
        return features

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self.features_out_, dtype=object)


def check_code(model, what: str) -> None:
    """Refuse a model whose derive step was trained with other derive code than this."""
    step = getattr(model, "named_steps", {}).get("derive")
    if step is None:
        raise DeriveMismatch(
            f"{what} has no derive step (trained by an older version of this template) - "
            "retrain (`make repro`) and deploy (`make deploy`)"
        )
    trained, current = step.code_hash_, derivation.code_hash()
    if trained != current:
        raise DeriveMismatch(
            f"{what} was trained with derive code {trained}, this project's {DERIVE_FILE} is "
            f"{current} - retrain (`make repro`) and deploy (`make deploy`), or run the code "
            "it was trained with"
        )
