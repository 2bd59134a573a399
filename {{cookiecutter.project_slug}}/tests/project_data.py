"""Rows shaped like this project's data: what the tests marked `project_data` run on.

The task and the target come from params.yaml; the columns, their types, ranges and
missing values from data/schema.yaml, the rules validate enforces on data.source (written
by the first `make repro`, then committed), so a clean clone runs these tests before
`make inputs` pulls any data. Before that schema exists, the rows come from data.source
itself: the dataset bundled with scikit-learn it names, or the first rows of its file here.
Your own data, set in params.yaml, and the features derive.py adds need no test edit.
"""

import copy
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.pipeline.schema import load_schema
from {{ cookiecutter.package_name }}.pipeline.tables import open_table
from {{ cookiecutter.package_name }}.stages.ingest import date_columns, with_dates

PROJECT = Path(__file__).resolve().parent.parent
ROWS = 80  # enough for every class in both sides of a split, few enough to stay fast
FIRST_DATE = pd.Timestamp("2020-01-01")


@cache
def project_params() -> dict:
    """params.yaml as the project has it."""
    return yaml.safe_load((PROJECT / "params.yaml").read_text())


def quick_params() -> dict:
    """params.yaml with the model kept small (at most 10 trees or 20 boosting rounds, one
    importance shuffle): the tests check that every step works on your data, quickly;
    `make repro` trains the real thing."""
    params = copy.deepcopy(project_params())
    train, estimator = params["train"], params["train"]["estimator"]
    settings = train.get(estimator) or {}
    for key, cap in (("n_estimators", 10), ("max_iter", 20)):
        if isinstance(settings.get(key), int):
            settings[key] = min(settings[key], cap)
    train[estimator] = settings
    params["evaluate"] = {**params.get("evaluate", {}), "importance_repeats": 1}
    return params


def project_frame() -> pd.DataFrame:
    """ROWS rows with the project's columns and target (a fresh copy each call)."""
    return _frame().copy()


@cache
def _frame() -> pd.DataFrame:
    params = project_params()
    source, target, task = params["data"]["source"], params["data"]["target"], params["task"]
    schema = load_schema(PROJECT / "data/schema.yaml", source)
    if schema is not None:
        return from_schema(schema, target, task)
    try:
        rows = first_rows(source, target)
    except PipelineError as error:
        raise RuntimeError(
            f"data/schema.yaml does not describe data.source {source!r} and its rows are not "
            f"here ({error}): run `make repro` once (validate writes the schema) and commit it"
        ) from None
    return rows.sample(n=min(ROWS, len(rows)), random_state=0).reset_index(drop=True)


def first_rows(source: str, target: str) -> pd.DataFrame:
    """The first rows of data.source, dates typed as ingest types them."""
    head = next(iter(open_table(source, chunk_rows=1000)))
    return with_dates(head, 0, date_columns(head, target))


def from_schema(schema, target: str, task: str) -> pd.DataFrame:
    """Rows that follow the schema's types, ranges and missing values, and a target the
    features predict (so a model has something to learn)."""
    rng = np.random.default_rng(0)
    columns = {
        name: column_values(column, rng)
        for name, column in schema.columns.items()
        if name != target
    }
    frame = pd.DataFrame(columns)
    signal = learnable_signal(frame, rng)
    if task == "regression":
        values = signal * 10 + 5
    else:
        values = signal > np.median(signal)
        values = labels(str(schema.columns[target].dtype), values)
    return frame.assign(**{target: values})


def column_values(column, rng: np.random.Generator) -> np.ndarray | pd.Series:
    """ROWS values of one column of the schema, every ninth missing where it may be."""
    dtype = str(column.dtype)
    bounds = {key: value for check in column.checks for key, value in check.statistics.items()}
    low, high = float(bounds.get("min_value", 0.0)), float(bounds.get("max_value", 10.0))
    if dtype.startswith("datetime"):
        values = pd.Series(FIRST_DATE + pd.to_timedelta(rng.integers(0, 1500, ROWS), "D"))
    elif dtype.startswith(("int", "uint")):
        values = pd.Series(rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1, ROWS))
    elif dtype.startswith("float"):
        values = pd.Series(rng.uniform(low, high, ROWS))
    elif dtype == "bool":
        values = pd.Series(rng.integers(0, 2, ROWS).astype(bool))
    else:  # text
        values = pd.Series([f"{column.name}-{k}" for k in rng.integers(0, 4, ROWS)], dtype=object)
    if column.nullable:
        values = values.where(np.arange(ROWS) % 9 != 4)
    return values


def learnable_signal(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """A number per row from the first numeric column, or the first text column's values."""
    for _, values in frame.items():
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            filled = values.fillna(values.median()).to_numpy(dtype=float)
            return (filled - filled.mean()) / (filled.std() or 1.0)
    for _, values in frame.items():
        if values.dtype == object:
            return pd.factorize(values)[0].astype(float)
    return rng.normal(size=len(frame))


def labels(dtype: str, positive: np.ndarray) -> np.ndarray:
    """Two classes in the target's own type."""
    if dtype == "bool":
        return positive
    if dtype.startswith(("int", "uint", "float")):
        return positive.astype(int)
    return np.where(positive, "yes", "no")
