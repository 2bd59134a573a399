"""Tiny in-memory datasets and parameters shared by the tests."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.params import Params


def make_params(task: str = "classification", estimator: str = "random_forest", **train) -> Params:
    """Parameters for the tiny data, with small estimators so tests stay fast."""
    settings = {"n_estimators": 10} if estimator == "random_forest" else {}
    return Params.model_validate(
        {
            "task": task,
            "data": {"source": "memory", "target": "target"},
            "split": {"test_size": 0.25, "seed": 0},
            "train": {"estimator": estimator, "seed": 0, "params": {**settings, **train}},
            "evaluate": {"importance_repeats": 2, "importance_max_rows": 50},
            "deploy": {"model_name": "tiny", "metric": "accuracy", "threshold": 0.5},
        }
    )


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    """Numeric and text columns with missing values, and a binary target."""
    rng = np.random.default_rng(0)
    rows = 80
    size = rng.normal(10, 2, rows)
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    size[::9] = np.nan
    colour[::7] = None
    return pd.DataFrame(
        {
            "size": size,
            "count": rng.integers(0, 5, rows),
            "colour": colour,
            "target": (np.nan_to_num(size, nan=10) > 10).astype(int),
        }
    )


@pytest.fixture
def regression_frame(mixed_frame: pd.DataFrame) -> pd.DataFrame:
    """The mixed columns with a continuous target."""
    return mixed_frame.assign(target=mixed_frame["count"] * 2.5 + 1.0)
