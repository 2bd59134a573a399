"""Check request rows against the manifest's feature schema and build the model's input.

A request is checked in bulk: its numeric values go into one float64 block and its text
values into one object block, their types collected in one pass in C and the numbers'
range checked by numpy. Only a request that fails is walked value by value, to name the
first offending field exactly.
"""

from itertools import chain
from operator import itemgetter

import numpy as np
import pandas as pd

from ..deploy.bundle import FINITE_NUMBER, FLOAT32_MAX, blocks_from_rows, frame_from_blocks
from ..pipeline.features import parse_dates, shown

NULL = type(None)


class InputError(ValueError):
    """A client error; the message names the offending field."""


class Columns:
    """Checked rows as the model takes them: the numeric columns as one float64 block and
    the text ones as one object block, [rows, columns] each, NaN for null; the date columns
    (text among the text block) also parsed, as one datetime64 block."""

    def __init__(self, numbers: np.ndarray, texts: np.ndarray, dates: np.ndarray) -> None:
        self.numbers, self.texts, self.dates = numbers, texts, dates

    def __len__(self) -> int:
        return len(self.numbers)


class Kind:
    """The columns of one kind (numbers or text), checked together as one block."""

    def __init__(self, features: list[dict], number: bool) -> None:
        self.number = number
        self.names = [f["name"] for f in features]
        nullable = [f.get("nullable", True) for f in features]
        # Exact JSON value types (type() does not follow subclasses: bool is not int here).
        self.allowed = frozenset({int, float} if number else {str}) | (
            {NULL} if any(nullable) else set()
        )
        self.required = np.flatnonzero(np.logical_not(nullable))  # columns without nulls
        self.getter = itemgetter(*self.names) if self.names else None

    def values(self, records: list[dict]) -> list:
        """The records' values of these columns, row by row, in one flat list."""
        if self.getter is None:
            return []
        if len(self.names) == 1:  # the getter gives the value, not a tuple
            return list(map(self.getter, records))
        return list(chain.from_iterable(map(self.getter, records)))

    def block(self, values: list, rows: int, by_column: bool = False) -> np.ndarray | None:
        """The values as a [rows, columns] block (`by_column`: given column after column);
        None when any value fails its column's check."""
        if not self.names:  # no columns of this kind
            return np.empty((rows, 0), dtype=np.float64 if self.number else object)
        kinds = set(map(type, values))
        if not kinds <= self.allowed:
            return None
        if self.number:
            try:
                block = np.array(values, dtype=np.float64)  # None becomes NaN
            except OverflowError:  # an integer beyond any float
                return None
            # NaN fails the comparison too: only the nulls may be outside the range.
            inside = np.abs(block) <= FLOAT32_MAX
            nulls = values.count(None) if NULL in kinds else 0
            if block.size - np.count_nonzero(inside) != nulls:
                return None
            missing = np.logical_not(inside) if nulls else None
        else:
            block = np.empty(len(values), dtype=object)
            block[:] = values
            # numpy's stubs before 2.5 refuse None, which an object array compares with
            # elementwise (the lock has 2.5 only for newer Pythons: unused there).
            missing = np.equal(block, None) if NULL in kinds else None  # type: ignore[call-overload, unused-ignore]
            if missing is not None:
                block[missing] = np.nan
        shape = (len(self.names), rows) if by_column else (rows, len(self.names))
        block = block.reshape(shape)
        if missing is not None and self.required.size:
            missing = missing.reshape(shape)
            if (missing[self.required] if by_column else missing[:, self.required]).any():
                return None
        return block.T if by_column else block


class FeatureSchema:
    """The columns a model version takes, with each one's type and whether it may be null."""

    def __init__(self, features: list[dict]) -> None:
        self.names = [feature["name"] for feature in features]
        self.numeric = {f["name"] for f in features if f["type"] == "number"}
        self.expected = set(self.names)
        self.allowed = {
            f["name"]: frozenset(
                ({int, float} if f["type"] == "number" else {str})
                | ({NULL} if f.get("nullable", True) else set())
            )
            for f in features
        }
        self.numbers = Kind([f for f in features if f["name"] in self.numeric], number=True)
        self.texts = Kind([f for f in features if f["name"] not in self.numeric], number=False)
        # Dates travel as ISO 8601 text among the text columns: (name, its index there).
        self.dates = [
            (f["name"], self.texts.names.index(f["name"]))
            for f in features
            if f["type"] == "datetime"
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
        for name, value in zip(self.names, values, strict=True):
            self._check_value(name, value, f"{where}.{name}")
        return values

    def with_dates(self, numbers: np.ndarray, texts: np.ndarray, where: str) -> Columns:
        """The checked blocks and their dates parsed, once every date is ISO 8601 text of a
        real date; else InputError naming the first that is not (`where` has {row} and
        {name} to fill)."""
        parsed = []
        for name, index in self.dates:
            dates, wrong = parse_dates(texts[:, index])
            if wrong is not None:
                raise InputError(
                    f"{where.format(row=wrong, name=name)}: expected an ISO 8601 date such as "
                    f"2024-03-01 or 2024-03-01T09:30:00Z, got {shown(str(texts[wrong, index]))}"
                )
            parsed.append(dates.to_numpy())
        block = np.column_stack(parsed) if parsed else np.empty((len(numbers), 0), "M8[ns]")
        return Columns(numbers, texts, block)

    def _check_value(self, name: str, value: object, where: str) -> None:
        kind = type(value)
        # The range check also refuses NaN and infinity (comparisons with NaN are false).
        if kind not in self.allowed[name] or (
            isinstance(value, float | int) and not -FLOAT32_MAX <= value <= FLOAT32_MAX
        ):
            raise InputError(f"{where}: {self._problem(name, value)}")

    def _problem(self, name: str, value: object) -> str:
        if value is None:
            return "null is not allowed for this column"
        if any(name == date for date, _ in self.dates):
            return f"expected an ISO 8601 date as a string, got {type(value).__name__}"
        if name not in self.numeric:
            return f"expected a string, got {type(value).__name__}"
        if type(value) is float and value != value:
            return "expected a finite number, got NaN"
        if type(value) in (int, float):
            return f"expected {FINITE_NUMBER}"
        return f"expected a number, got {type(value).__name__}"

    def check_records(self, records: object, limit: int) -> Columns:
        """The records' checked columns, or InputError naming the first offending record
        and column (the one a row-by-row check names)."""
        if not isinstance(records, list) or not records:
            raise InputError("records must be a non-empty list of rows")
        if len(records) > limit:
            raise InputError(f"records has {len(records)} rows, more than the limit of {limit}")
        # Every record an object with exactly the schema's columns: as many keys, all there.
        if set(map(type, records)) == {dict} and set(map(len, records)) == {len(self.names)}:
            try:
                numbers = self.numbers.block(self.numbers.values(records), len(records))
                texts = self.texts.block(self.texts.values(records), len(records))
            except KeyError:  # a column is missing
                numbers = texts = None
            if numbers is not None and texts is not None:
                return self.with_dates(numbers, texts, "records[{row}].{name}")
        rows = [self.check_row(row, f"records[{i}]") for i, row in enumerate(records)]
        # Not reached while the bulk checks are exact.
        return self.with_dates(
            *blocks_from_rows(rows, self.names, self.numeric), "records[{row}].{name}"
        )

    def check_columns(self, columns: dict[str, list], limit: int) -> Columns:
        """Checked columns from name: values lists (V2's tensors), or InputError naming the
        input and row of the first offending value."""
        missing = [name for name in self.names if name not in columns]
        if missing:
            raise InputError(f"inputs: missing column {missing[0]!r}")
        rows = len(columns[self.names[0]])
        if any(len(columns[name]) != rows for name in self.names):
            raise InputError("inputs must all have the same number of rows")
        if not rows:
            raise InputError("inputs must have at least one row")
        if rows > limit:
            raise InputError(f"inputs have {rows} rows, more than the limit of {limit}")
        numbers, texts = (
            kind.block(list(chain.from_iterable(columns[n] for n in kind.names)), rows, True)
            for kind in (self.numbers, self.texts)
        )
        if numbers is None or texts is None:
            for name in self.names:
                for i, value in enumerate(columns[name]):
                    self._check_value(name, value, f"input {name!r}[{i}]")
            checked = list(zip(*(columns[name] for name in self.names), strict=True))
            numbers, texts = blocks_from_rows(checked, self.names, self.numeric)
        return self.with_dates(numbers, texts, "input {name!r}[{row}]")

    def columns(self, rows: list[tuple]) -> Columns:
        """Columns from rows already checked (or deliberately not, in tests)."""
        return self.with_dates(*blocks_from_rows(rows, self.names, self.numeric), "{name}")

    def frame(self, parts: list[Columns]) -> pd.DataFrame:
        """The model's input for several requests' checked columns, in order."""
        if len(parts) == 1:
            numbers, texts, dates = parts[0].numbers, parts[0].texts, parts[0].dates
        else:
            numbers = np.concatenate([part.numbers for part in parts])
            texts = np.concatenate([part.texts for part in parts])
            dates = np.concatenate([part.dates for part in parts])
        parsed = {name: dates[:, i] for i, (name, _) in enumerate(self.dates)}
        return frame_from_blocks(self.names, numbers, self.numbers.names, texts, parsed)
