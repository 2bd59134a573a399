"""Sort columns into the kinds the model can use: numeric, categorical, or unusable."""

from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api import types


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


def frame_from_rows(rows: list[tuple], names: list[str], numeric: set[str]) -> pd.DataFrame:
    """Request rows as the model's input, in the form `prepare` gives training data:
    numbers as floats and text as objects, NaN for null in both."""
    data = {}
    for name, values in zip(names, zip(*rows, strict=True), strict=True):
        if name in numeric:
            data[name] = np.array(values, dtype=np.float64)  # None becomes NaN
        else:
            data[name] = np.array([np.nan if v is None else v for v in values], dtype=object)
    return pd.DataFrame(data, columns=names)
