"""Check request rows against the manifest's feature schema and build the model's input."""

import pandas as pd

from ..deploy.bundle import frame_from_rows

# The largest number a model can take: scikit-learn's trees and forests cast their input to
# float32, where anything beyond this is infinity and fails the whole predict call.
FLOAT32_MAX = 3.4028234663852886e38


class InputError(ValueError):
    """A client error; the message names the offending field."""


class FeatureSchema:
    """The columns a model version takes, with each one's type and whether it may be null."""

    def __init__(self, features: list[dict]) -> None:
        self.names = [feature["name"] for feature in features]
        self.numeric = {f["name"] for f in features if f["type"] == "number"}
        self.expected = set(self.names)
        # Per column, the exact JSON value types it takes: a set lookup per value keeps the
        # hot path cheap (bool is not int here, as type() does not follow subclasses).
        self.allowed = [
            (
                name,
                frozenset(
                    ({int, float} if f["type"] == "number" else {str})
                    | ({type(None)} if f.get("nullable", True) else set())
                ),
            )
            for name, f in zip(self.names, features, strict=True)
        ]

    def check_row(self, row: object, where: str) -> tuple:
        """Return the row's values in training order, or raise InputError naming the field."""
        if type(row) is not dict:
            raise InputError(f"{where} must be an object of column: value")
        if row.keys() != self.expected:
            missing = sorted(self.expected - row.keys())
            unknown = sorted(row.keys() - self.expected)
            problem = (
                f"missing column {missing[0]!r}" if missing else f"unknown column {unknown[0]!r}"
            )
            raise InputError(f"{where}: {problem}")
        values = tuple(map(row.__getitem__, self.names))
        for (name, allowed), value in zip(self.allowed, values, strict=True):
            kind = type(value)
            # The range check also refuses NaN and infinity (comparisons with NaN are false).
            if kind not in allowed or (
                (kind is float or kind is int) and not -FLOAT32_MAX <= value <= FLOAT32_MAX
            ):
                raise InputError(f"{where}.{name}: {self._problem(name, value)}")
        return values

    def _problem(self, name: str, value: object) -> str:
        if value is None:
            return "null is not allowed for this column"
        if name not in self.numeric:
            return f"expected a string, got {type(value).__name__}"
        if type(value) is float and value != value:
            return "expected a finite number, got NaN"
        if type(value) in (int, float):
            return f"expected a finite number within ±{FLOAT32_MAX:.4g} (the model's float32)"
        return f"expected a number, got {type(value).__name__}"

    def check_records(self, records: object, limit: int) -> list[tuple]:
        if not isinstance(records, list) or not records:
            raise InputError("records must be a non-empty list of rows")
        if len(records) > limit:
            raise InputError(f"records has {len(records)} rows, more than the limit of {limit}")
        return [self.check_row(row, f"records[{i}]") for i, row in enumerate(records)]

    def frame(self, rows: list[tuple]) -> pd.DataFrame:
        """The model's input for checked rows."""
        return frame_from_rows(rows, self.names, self.numeric)
