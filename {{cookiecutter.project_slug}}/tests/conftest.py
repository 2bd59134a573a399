"""Tiny in-memory datasets and parameters shared by the tests.

Most tests check the template's machinery (stages, registry, server, monitor) on the demo
rows below, whose columns are `size`, `count`, `colour` and `target`: they run with a
derive() that keeps the columns as they are (on Dask's workers too), so your derive.py,
written for your columns, never meets them. Their modules are marked `machinery`: your data,
params and derive.py do not change their outcome, so `make test` (and `make ci`) leaves them
to `make test-all`, which CI runs. The tests marked `project_data` run your derive.py on
rows shaped like your data (tests/project_data.py): every stage, then the model served,
scored and monitored. A test you add in a module of its own runs in `make test` unless you
mark it `machinery`. After editing src/ beyond derive.py, dvc.yaml or the Makefile, run
`make test-all`: the machinery's tests read them.
"""

import contextlib
import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.params import Params
from {{ cookiecutter.package_name }}.pipeline import derivation, tables

# pytest's main process imports this file too, and with TESTS=all's workers it only hands
# out tests: what needs scikit-learn (seconds to import) imports it where it is used.

# The server tests' admin token and a request row for the `publish_tiny` models.
TOKEN = "a-long-random-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROW = {"size": 10.5, "count": 2, "colour": "red"}


# scikit-learn's Parallel gives each task the global warnings.filters list, which each
# threaded task swaps out and back: two threads interleaving (a forest's threads, a server's
# request threads, Dask's) can empty it, and every task after says this, whatever the
# filters in pyproject.toml (scikit-learn issue 32631). Nothing is wrong with the results.
SKLEARN_FILTER_RACE = "`sklearn.utils.parallel.delayed` should be used with"


@pytest.fixture(autouse=True)
def without_sklearns_filter_race(monkeypatch):
    """Record every warning but that one. A test runs inside pytest's catch_warnings,
    which records through warnings._showwarnmsg_impl; a replaced showwarning is called
    instead, in every thread, whatever state the filters are in."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if SKLEARN_FILTER_RACE not in str(message):
            record = warnings.WarningMessage(message, category, filename, lineno, file, line)
            warnings._showwarnmsg_impl(record)  # type: ignore[attr-defined]

    monkeypatch.setattr(warnings, "showwarning", show)


@pytest.fixture(autouse=True)
def demo_derive(request, monkeypatch):
    """The demo rows' derive(): the columns as they are (project_data tests run yours)."""
    if request.node.get_closest_marker("project_data") is not None:
        yield
        return
    monkeypatch.setattr(derivation.derive_module, "derive", keep_columns)
    if "dask_client" not in request.fixturenames:
        yield
        return
    client = request.getfixturevalue("dask_client")
    client.run(derive_on_worker, keep=True)
    yield
    client.run(derive_on_worker, keep=False)


def keep_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def derive_on_worker(keep: bool) -> None:
    """On a Dask worker: the demo rows' derive(), or the project's own back."""
    from {{ cookiecutter.package_name }}.pipeline import derive

    own = derive.__dict__.setdefault("own_derive", derive.derive)
    derive.derive = (lambda frame: frame) if keep else own


def make_params(
    task: str = "classification",
    estimator: str = "random_forest",
    *,
    source: str = "memory",
    test_size: float = 0.25,
    seed: int = 0,
    max_rows: int = 500_000,
    target: str = "target",
    **train,
) -> Params:
    """Parameters for the tiny data, with small estimators so tests stay fast (a forest of
    10 trees fits faster in one thread than in a pool); `train` holds the estimator's
    keyword arguments."""
    settings = {
        "random_forest": {"n_estimators": 10, "n_jobs": 1},
        "gradient_boosting": {"max_iter": 20},
    }
    settings = settings.get(estimator, {})
    return Params.model_validate(
        {
            "task": task,
            "data": {"source": source, "target": target},
            "split": {"test_size": test_size, "seed": seed},
            "train": {
                "estimator": estimator,
                "seed": 0,
                estimator: {**settings, **train},
                "max_rows": max_rows,
            },
            "evaluate": {"importance_repeats": 2, "importance_max_rows": 50},
            "deploy": {"model_name": "tiny", "metric": "accuracy", "threshold": 0.5},
        }
    )


def small_frame(task: str = "classification") -> pd.DataFrame:
    """Numeric and text columns with missing values; a binary or a continuous target."""
    rng = np.random.default_rng(0)
    rows = 80
    size = rng.normal(10, 2, rows)
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    size[::9] = np.nan
    colour[::7] = None
    count = rng.integers(0, 5, rows)
    if task == "classification":
        target = (np.nan_to_num(size, nan=10) > 10).astype(int)
    else:
        target = count * 2.5 + 1.0
    return pd.DataFrame({"size": size, "count": count, "colour": colour, "target": target})


def in_parts(frame: pd.DataFrame, folder: Path, parts: int, suffix: str = ".parquet") -> Path:
    """Write a frame as a dataset folder of `parts` files (part-0.parquet, ...), in order."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        part = frame.iloc[rows]
        if suffix == ".csv":
            part.to_csv(folder / f"part-{number}.csv", index=False)
        else:
            part.to_parquet(folder / f"part-{number}{suffix}", index=False)
    return folder


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    return small_frame("classification")


@pytest.fixture
def regression_frame() -> pd.DataFrame:
    return small_frame("regression")


def publish_tiny(registry, frame: pd.DataFrame, **train) -> str:
    """Train on the tiny data, publish the bundle and promote it; return the version."""
    files, manifest = tiny_bundle(frame, make_params(**train))
    version = registry.publish(files, copy.deepcopy(manifest), "abc1234")
    registry.promote(version)
    return version


BUNDLES: dict[tuple, tuple[dict, dict]] = {}


def tiny_bundle(frame: pd.DataFrame, params: Params) -> tuple[dict, dict]:
    """The bundle of a model trained on these rows with these parameters, built once per
    session (and per derive code): most tests need a version to publish, not a new fit."""
    from {{ cookiecutter.package_name }}.deploy import bundle
    from {{ cookiecutter.package_name }}.pipeline.data import features_and_target
    from {{ cookiecutter.package_name }}.stages.profile import profile as profile_of
    from {{ cookiecutter.package_name }}.stages.train import train as train_model

    derive = derivation.derive_module.derive
    rows = frame.to_json(date_format="iso")
    key = (rows, params.model_dump_json(), derivation.code_hash(), derive)
    if key not in BUNDLES:
        model = train_model(frame, params)
        features, _ = features_and_target(frame, params.data.target)
        table = tables.from_frame(frame)
        profile = json.dumps(profile_of(model, table, table, params)).encode()
        BUNDLES[key] = bundle.build(model, features, profile, {"metrics": {"accuracy": 0.9}})
    return BUNDLES[key]


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(str(tmp_path / "registry"), "tiny")


@pytest.fixture(scope="session")
def dask_client():
    """A Dask cluster of two worker processes, shared by the tests that run stages on the
    dask engine (compute=dask projects; elsewhere those tests are skipped)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0"
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def session_cluster(request, monkeypatch) -> None:
    """Commands run on the session's Dask cluster instead of each starting its own (worker
    processes take seconds to start); nothing to do on the local engine."""
    from {{ cookiecutter.package_name }} import scoring
    from {{ cookiecutter.package_name }}.monitoring import monitor
    from {{ cookiecutter.package_name }}.pipeline import engine

    if engine.open_table is not tables.open_table:
        request.getfixturevalue("dask_client")
        for module in (monitor, scoring):
            monkeypatch.setattr(module, "running", contextlib.nullcontext)
