"""`predict`: score a dataset with the version an environment serves, into Parquet parts.

The version is loaded from the registry with the server's checks (deploy/bundle.py:
checksums, scikit-learn version, allowed types, smoke rows), and its rows are checked and
prepared as the server does a request's (numbers as floats within float32's range, text as
objects, by the manifest's types). The data (a file, folder, glob or URL) is scored a
partition at a time (a chunk of rows on the local engine), and each becomes a part: the
input columns, `prediction`, `probability_<class>` for a classifier, `model_version`. The
parts replace OUT's only once all are written (scoring_output.py). `make monitor DATA=OUT`
reads them back, and predicts again.
"""

import argparse
import logging
import time
from dataclasses import replace

import numpy as np
import pandas as pd
from pandas.api import types

from .deploy.bundle import FINITE_NUMBER, FLOAT32_MAX, Loaded, load_version
from .deploy.release import environment, registry, served_version
from .errors import PipelineError, UnusableInput
from .params import load_params
from .pipeline.engine import open_table, running
from .pipeline.features import to_dates
from .scoring_output import check_out, discard, staging, swap_in

log = logging.getLogger(__name__)
PREDICTION, MODEL_VERSION, PROBABILITY = "prediction", "model_version", "probability_"
CHUNK_ROWS = 1_000_000  # rows the local engine scores at a time: memory is bounded by a chunk


def served_model(env: str | None) -> Loaded:
    """The checked model the environment serves (through its ONNX graph where it has one,
    as the server does), without its files: Dask sends it to every worker."""
    env = environment(env)
    store = registry(load_params())
    return replace(load_version(store, served_version(store, env)), files={})


def check_columns(columns: list[str], expected: list[str], data: str) -> None:
    """Refuse data that lacks feature columns the model takes, naming them (monitor too)."""
    missing = [name for name in expected if name not in columns]
    if missing:
        raise UnusableInput(
            f"{data} lacks {len(missing)} of the model's {len(expected)} input columns "
            f"({', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''}); "
            f"its columns are: {', '.join(map(str, columns[:10])) or 'none'}"
        )


def as_number(column: pd.Series, name: str, number: int) -> pd.Series:
    """A feature column as floats, checked as the server checks a request's numbers
    (monitor too): text, booleans, dates and other values that are not numbers are
    refused, and so are numbers beyond float32's range, infinity included (scikit-learn's
    trees cast to float32, where they fail the whole predict call). Missing stays NaN."""
    held = not_numbers(column)
    if held:
        raise UnusableInput(
            f"column {name!r} holds {held} where the model expects numbers (partition {number})"
        )
    numbers = pd.to_numeric(column).astype(float)
    beyond = np.flatnonzero(np.abs(numbers.to_numpy()) > FLOAT32_MAX)  # NaN is not
    if beyond.size:
        row = int(beyond[0])
        raise UnusableInput(
            f"column {name!r} holds {numbers.iloc[row]:g} in row {row} of partition {number}: "
            f"expected {FINITE_NUMBER}"
        )
    return numbers


def not_numbers(column: pd.Series) -> str | None:
    """What a column holds instead of numbers ("text", "booleans", ...), or None."""
    if types.is_bool_dtype(column):
        return "booleans"
    # pandas would turn both into their nanoseconds, numbers the model never saw.
    if types.is_datetime64_any_dtype(column):
        return "dates"
    if types.is_timedelta64_dtype(column):
        return "durations"
    if types.is_numeric_dtype(column) and not types.is_complex_dtype(column):
        return None
    if column.dtype != object:
        return "text" if types.is_string_dtype(column) else f"{column.dtype} values"
    odd = [value for value in column.dropna() if not is_number(value)]
    if not odd:
        return None
    return (
        "text"
        if any(isinstance(value, str) for value in odd)
        else f"{type(odd[0]).__name__} values"
    )


def is_number(value: object) -> bool:
    """An int or float (NumPy's too), as a request's number is: not a bool or a Decimal."""
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def as_dates(column: pd.Series, name: str, number: int) -> pd.Series:
    """A date column as naive UTC timestamps, from dates or ISO 8601 text (monitor too)."""
    try:
        return to_dates(column, name)
    except PipelineError as error:
        raise UnusableInput(f"{error} (partition {number})") from None


def model_frame(frame: pd.DataFrame, features: list[dict], number: int) -> pd.DataFrame:
    """The model's input from a partition, in the form the server gives a request's rows
    (bundle.frame_from_blocks): its raw columns in training order, numbers as floats, dates
    as timestamps and text as objects with NaN for missing, typed by the manifest rather
    than guessed per chunk (a chunk where a text column is all missing stays text). Text
    among numbers, and dates that are not dates, are refused."""
    columns = {}
    for feature in features:
        name, column = feature["name"], frame[feature["name"]]
        if feature["type"] == "number":
            columns[name] = as_number(column, name, number)
        elif feature["type"] == "datetime":
            columns[name] = as_dates(column, name, number)
        else:
            columns[name] = column.astype(object).where(column.notna(), np.nan)
    return pd.DataFrame(columns, index=frame.index)


def score(frame: pd.DataFrame, number: int, loaded: Loaded) -> pd.DataFrame:
    """One partition with its predictions (and class probabilities) and the model version,
    as the server answers them. Outputs of an earlier scoring are replaced, not kept twice."""
    scored = frame.drop(columns=[name for name in frame.columns if is_output(name)])
    classes = loaded.manifest["classes"]
    if len(frame):
        predictions, probabilities = loaded.scores(
            model_frame(frame, loaded.manifest["features"], number)
        )
    else:
        predictions = np.asarray(classes)[:0] if classes else np.empty(0)
        probabilities = np.empty((0, len(classes))) if classes else None
    outputs = {PREDICTION: predictions if classes else np.asarray(predictions, dtype=float)}
    if probabilities is not None:
        for i, name in enumerate(classes):
            outputs[f"{PROBABILITY}{name}"] = probabilities[:, i]
    outputs[MODEL_VERSION] = np.full(len(frame), loaded.version, dtype=object)
    return scored.assign(**outputs)


def is_output(name: str) -> bool:
    return name in (PREDICTION, MODEL_VERSION) or name.startswith(PROBABILITY)


def predict(data: str, out: str, env: str | None = None) -> str:
    """Score DATA with the environment's version into OUT; say what was done. OUT changes
    only once every row is scored and written (scoring_output.py)."""
    loaded = served_model(env)
    version, features = loaded.version, loaded.manifest["features"]
    check_out(out, data)
    with running():
        started = time.monotonic()  # the scoring itself, not a cluster's start
        table = open_table(data, chunk_rows=CHUNK_ROWS)
        check_columns(table.columns, [feature["name"] for feature in features], data)
        staged = staging(out)
        try:
            # Each part holds its partition's rows, every one scored: rows written = rows read.
            rows = table.map(score, loaded).write_parts(staged)
            if rows == 0:
                raise UnusableInput(f"{data} holds no rows - nothing was scored; OUT is unchanged")
            swap_in(staged, out)
        except BaseException:
            discard(staged)
            raise
        seconds = time.monotonic() - started
    return (
        f"read {rows} rows of {data}, scored them with version {version} ({loaded.runtime}) "
        f"and wrote {rows} rows to {out} in {seconds:.1f} s "
        f"({rows / max(seconds, 1e-9):,.0f} rows/s)"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="predict", description=__doc__)
    parser.add_argument("data", help="rows to score: a CSV or Parquet file, folder, glob or URL")
    parser.add_argument("--out", required=True, help="folder (path or URL) for the Parquet parts")
    parser.add_argument(
        "--env", help="the environment whose version scores (default: DEPLOY_ENV, else production)"
    )
    arguments = parser.parse_args(argv)
    log.info(predict(arguments.data, arguments.out, arguments.env))
