"""Sort columns into the kinds the model can use: numeric, categorical, or unusable."""

from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api import types

from ..errors import PipelineError


class ColumnKinds(NamedTuple):
    numeric: list[str]
    categorical: list[str]
    unusable: dict[str, str]  # column -> its dtype


def column_kinds(frame: pd.DataFrame) -> ColumnKinds:
    """Classify each column: numbers are scaled, text and booleans one-hot encoded."""
    kinds = ColumnKinds([], [], {})
    for name, column in frame.items():
        if types.is_bool_dtype(column) or isinstance(column.dtype, pd.CategoricalDtype):
            kinds.categorical.append(name)
        elif types.is_numeric_dtype(column) and not types.is_complex_dtype(column):
            kinds.numeric.append(name)
        elif (column.dtype == object or types.is_string_dtype(column)) and _holds_text(column):
            kinds.categorical.append(name)
        else:
            kinds.unusable[name] = str(column.dtype)
    return kinds


def _holds_text(column: pd.Series) -> bool:
    """Object columns pass only when every present value is a string."""
    return column.dtype != object or all(isinstance(value, str) for value in column.dropna())


def prepare(features: pd.DataFrame) -> pd.DataFrame:
    """Give categorical columns one form, object values with NaN for missing, whatever
    pandas version or reader produced them, so training and serving encode alike."""
    categorical = column_kinds(features).categorical
    if not categorical:
        return features
    converted = {
        name: features[name].astype(object).where(features[name].notna(), np.nan)
        for name in categorical
    }
    return features.assign(**converted)


def model_inputs(model, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the fitted model consumes, in training order.

    A stage before train may drop or add columns: the profile, the deployed bundle and the
    server follow the model, not whichever table is at hand.
    """
    names = [str(name) for name in model.feature_names_in_]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise PipelineError(
            f"the model needs column(s) the data lacks: {', '.join(missing[:10])} - rerun the "
            "pipeline (`make repro`) so the model and its data match"
        )
    return frame[names]
