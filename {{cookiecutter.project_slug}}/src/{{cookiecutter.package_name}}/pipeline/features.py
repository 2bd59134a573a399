"""Sort columns into the kinds a model can use: numeric, categorical, dates, or unusable."""

import datetime
import re
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api import types

from ..errors import PipelineError

# ISO 8601 dates and timestamps as CSV files and JSON requests write them: 2024-03-01,
# 2024-03-01T09:30, 2024-03-01 09:30:00.5+01:00, ...Z.
ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)


class ColumnKinds(NamedTuple):
    numeric: list[str]
    categorical: list[str]
    unusable: dict[str, str]  # column -> its dtype
    dates: list[str]  # raw columns only: derive.py turns them into numbers


def column_kinds(frame: pd.DataFrame) -> ColumnKinds:
    """Classify each column: numbers are scaled, text and booleans one-hot encoded, dates
    left to derive.py."""
    kinds = ColumnKinds([], [], {}, [])
    # By dtype: a column is taken out of the frame only when its values must be looked at
    # (objects), which keeps a request's few rows of many columns cheap.
    for name, dtype in frame.dtypes.items():
        if types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            kinds.categorical.append(name)
        elif types.is_datetime64_any_dtype(dtype):
            kinds.dates.append(name)
        elif types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype):
            kinds.numeric.append(name)
        elif types.is_string_dtype(dtype) and _holds_text(frame[name]):
            kinds.categorical.append(name)
        else:
            kinds.unusable[name] = str(dtype)
    return kinds


def input_types(frame: pd.DataFrame) -> list[dict]:
    """Each raw column as clients send it: "number", "string" or "datetime" (ISO 8601)."""
    kinds = column_kinds(frame)
    typed = {name: "number" for name in kinds.numeric} | {name: "datetime" for name in kinds.dates}
    return [{"name": name, "type": typed.get(name, "string")} for name in frame.columns]


def _holds_text(column: pd.Series) -> bool:
    """Object columns pass only when every present value is a string."""
    # pandas' inference runs in C: "string" when every present value is a str, "empty"
    # when none is present.
    return column.dtype != object or types.infer_dtype(column, skipna=True) in ("string", "empty")


def prepare(features: pd.DataFrame) -> pd.DataFrame:
    """Give each kind of column one form, whatever the reader, pandas version or request
    produced: numbers as float64, text and booleans as objects with NaN for missing, dates
    as naive UTC nanoseconds. Training, the server and batch scoring then hand derive() and
    the model the same values (an int64 column and a request's float alike: 4.0, not 4)."""
    kinds, dtypes = column_kinds(features), features.dtypes
    converted = {
        name: features[name].astype(object).where(features[name].notna(), np.nan)
        for name in kinds.categorical
    }
    converted |= {
        name: features[name].astype("float64")
        for name in kinds.numeric
        if dtypes[name] != "float64"
    }
    converted |= {
        name: to_dates(features[name], name)
        for name in kinds.dates
        if dtypes[name] != "datetime64[ns]"
    }
    return features.assign(**converted) if converted else features


def looks_like_dates(column: pd.Series) -> bool:
    """A column of dates kept as values, not typed as dates: ISO 8601 text (CSV), or Python
    dates (Parquet's date32, which pandas reads as objects)."""
    if not (column.dtype == object or types.is_string_dtype(column)):
        return False
    present = column.dropna()
    return len(present) > 0 and all(
        isinstance(value, datetime.date) or (isinstance(value, str) and ISO_DATE.fullmatch(value))
        for value in present
    )


def parse_dates(values) -> tuple[pd.Series, int | None]:
    """Values as naive UTC timestamps (nanoseconds, whatever pandas' version), and the
    position of the first present value that is not an ISO 8601 date or a date (None when
    all are). One rule for ingest, the server, `make predict` and `make monitor`."""
    series = pd.Series(values, dtype=object).reset_index(drop=True)
    text = series.map(lambda value: isinstance(value, str))
    iso = series[text].str.fullmatch(ISO_DATE.pattern).reindex(series.index, fill_value=True)
    dates = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    wrong = np.flatnonzero((series.notna() & (dates.isna() | ~iso.astype(bool))).to_numpy())
    dates = dates.dt.tz_localize(None).astype("datetime64[ns]")
    return dates, (int(wrong[0]) if wrong.size else None)


def to_dates(values, name: str) -> pd.Series:
    """Dates as parse_dates gives them, with the index they came with; PipelineError naming
    the column and the first value that is not a date."""
    dates, wrong = parse_dates(values)
    if wrong is not None:
        value = str(pd.Series(values, dtype=object).iloc[wrong])
        raise PipelineError(
            f"column {name!r} holds {shown(value)} where a date is expected: write dates as "
            "ISO 8601 text, such as 2024-03-01 or 2024-03-01T09:30:00Z"
        )
    return dates.set_axis(values.index) if isinstance(values, pd.Series) else dates


def shown(value: str, limit: int = 40) -> str:
    """A value quoted for a message, cut short: whoever sent it may have sent megabytes."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def model_inputs(model, frame: pd.DataFrame) -> pd.DataFrame:
    """The raw columns the fitted model takes, in training order.

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
