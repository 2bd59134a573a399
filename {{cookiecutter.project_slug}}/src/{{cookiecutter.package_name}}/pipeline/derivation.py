"""Run derive.py's `derive` under its rules, for training, validation and serving alike.

Kept apart from the model's step (derive_step.py) so that validate, which checks derived
features too, does without scikit-learn's import.
"""

import hashlib
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import PipelineError
from . import derive as derive_module
from .features import column_kinds, prepare

DERIVE_FILE = f"src/{__package__.replace('.', '/')}/derive.py"
# code_hash() of derive.py as the template ships it (date_parts alone), which leaves rows
# without dates as they are: a model trained with it takes rows with no date column as they
# come, so the server can hand its checked columns to the ONNX graph directly.
PASS_THROUGH_WITHOUT_DATES = frozenset({"15b7596db6df"})


@cache
def code_hash() -> str:
    """The first 12 hex digits of derive.py's sha256 (line endings as git stores them), as
    this process first read it: a file edited since is not the code that runs here."""
    source = Path(derive_module.__file__).read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(source).hexdigest()[:12]


def derived(raw: pd.DataFrame) -> pd.DataFrame:
    """The model's features from raw rows. derive() gets the rows in the form training and
    serving share (features.prepare), and what it returns is put in that form too."""
    raw = prepare(raw)
    try:
        features = derive_module.derive(raw)
    except Exception as error:  # the user's code: say where it failed, keep the cause
        raise PipelineError(
            f"{DERIVE_FILE} failed on the raw columns ({', '.join(map(str, raw.columns[:10]))}"
            f"{', ...' if raw.shape[1] > 10 else ''}): {type(error).__name__}: {error}"
        ) from error
    if not isinstance(features, pd.DataFrame) or len(features) != len(raw):
        raise PipelineError(
            f"derive() in {DERIVE_FILE} must return a DataFrame with a row for every row it "
            "gets - filter or deduplicate rows in a stage of dvc.yaml instead"
        )
    # A ratio over zero is a missing value the imputer fills, not an infinity that stops
    # the model.
    numbers = features.select_dtypes("number")
    infinite = np.isinf(numbers.to_numpy(dtype=float, na_value=np.nan)).any(axis=0)
    if infinite.any():
        finite = numbers.loc[:, infinite].replace([np.inf, -np.inf], np.nan)
        features = features.assign(**{str(name): finite[name] for name in finite.columns})
    return prepare(features)


def check_usable(features: pd.DataFrame) -> None:
    """Refuse derived columns no model step can take (a date left as it is, say)."""
    kinds = column_kinds(features)
    unusable = {name: "a date" for name in kinds.dates} | kinds.unusable
    if unusable:
        listed = ", ".join(f"{name!r} ({dtype})" for name, dtype in unusable.items())
        raise PipelineError(
            f"derive() in {DERIVE_FILE} returns column(s) {listed} the model cannot use - "
            "turn them into numbers or text there, or drop them"
        )
