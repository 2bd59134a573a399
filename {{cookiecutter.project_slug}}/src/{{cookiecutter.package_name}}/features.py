"""Sort columns into the kinds the model can use: numeric, categorical, or unusable."""

from typing import NamedTuple

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
        elif types.is_string_dtype(column) and _holds_text(column):
            kinds.categorical.append(name)
        else:
            kinds.unusable[name] = str(column.dtype)
    return kinds


def _holds_text(column: pd.Series) -> bool:
    """Object columns pass only when every present value is a string."""
    present = column.dropna()
    return present.map(type).eq(str).all() if column.dtype == object else True
