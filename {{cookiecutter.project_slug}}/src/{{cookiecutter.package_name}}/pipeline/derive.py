"""Your features: edit `derive` to add, transform or drop columns, row by row.

The trained model runs `derive` as its first step, so the server, `make predict` and
`make monitor` take the raw columns of data.source and compute the same features training
saw: no client re-implements them. Three rules keep that true:
- row by row: a row's features come from that row alone (no means over the table, no
  lookups in other data: work like that belongs in a stage of dvc.yaml);
- the same columns out, in the same order, for any rows, one row included;
- nothing random, nothing from the clock.
The model records a hash of this file: after an edit, a model trained before it is refused
until `make repro` retrains it and `make deploy` ships it.
"""

import pandas as pd
from pandas.api import types

DATE_PARTS = ("year", "month", "day", "day_of_week", "hour")


def derive(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's features from one batch of raw rows."""
    # For example (your own columns):
    #   frame = frame.assign(power_to_weight=frame["horsepower"] / frame["weight"])
    #   frame = frame.drop(columns=["name"])  # an identifier tells the model nothing
    return date_parts(frame)


def date_parts(frame: pd.DataFrame) -> pd.DataFrame:
    """Each date or timestamp column as numbers a model can use: <column>_year, _month,
    _day, _day_of_week (Monday 0) and _hour; missing dates stay missing."""
    dates = [name for name, dtype in frame.dtypes.items() if types.is_datetime64_any_dtype(dtype)]
    if not dates:
        return frame
    parts = {
        f"{name}_{part}": getattr(frame[name].dt, part).astype("float64")
        for name in dates
        for part in DATE_PARTS
    }
    return frame.drop(columns=dates).assign(**parts)
