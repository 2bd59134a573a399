"""Check request rows against the manifest's feature schema and build the model's input."""

import math

import numpy as np
import pandas as pd


class InputError(ValueError):
    """A client error; the message names the offending field."""


class FeatureSchema:
    """The columns a model version takes, with each one's type and whether it may be null."""

    def __init__(self, features: list[dict]) -> None:
        self.names = [feature["name"] for feature in features]
        self.numeric = {f["name"] for f in features if f["type"] == "number"}
        self.nullable = {f["name"] for f in features if f.get("nullable", True)}
        self.expected = set(self.names)

    def check_row(self, row: object, where: str) -> tuple:
        """Return the row's values in training order, or raise InputError naming the field."""
        if not isinstance(row, dict):
            raise InputError(f"{where} must be an object of column: value")
        if row.keys() != self.expected:
            missing = sorted(self.expected - row.keys())
            unknown = sorted(row.keys() - self.expected)
            problem = (
                f"missing column {missing[0]!r}" if missing else f"unknown column {unknown[0]!r}"
            )
            raise InputError(f"{where}: {problem}")
        values = []
        for name in self.names:
            value = row[name]
            if value is None:
                if name not in self.nullable:
                    raise InputError(f"{where}.{name}: null is not allowed for this column")
            elif name in self.numeric:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InputError(
                        f"{where}.{name}: expected a number, got {type(value).__name__}"
                    )
                if not math.isfinite(value):
                    raise InputError(f"{where}.{name}: expected a finite number")
            elif not isinstance(value, str):
                raise InputError(f"{where}.{name}: expected a string, got {type(value).__name__}")
            values.append(value)
        return tuple(values)

    def check_records(self, records: object, limit: int) -> list[tuple]:
        if not isinstance(records, list) or not records:
            raise InputError("records must be a non-empty list of rows")
        if len(records) > limit:
            raise InputError(f"records has {len(records)} rows, more than the limit of {limit}")
        return [self.check_row(row, f"records[{i}]") for i, row in enumerate(records)]

    def frame(self, rows: list[tuple]) -> pd.DataFrame:
        """The model's input for checked rows, in the form training used (features.prepare):
        numbers as floats with NaN for null, text as objects with NaN for null."""
        data = {}
        for name, values in zip(self.names, zip(*rows, strict=True), strict=True):
            if name in self.numeric:
                data[name] = np.array(values, dtype=np.float64)  # None becomes NaN
            else:
                data[name] = np.array([np.nan if v is None else v for v in values], dtype=object)
        return pd.DataFrame(data, columns=self.names)
