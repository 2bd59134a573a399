"""The runtime that answers: a version's ONNX graph when it has one (fed the checked
request columns directly when derive.py leaves them as they are), scikit-learn otherwise,
and SERVE_RUNTIME=onnx refusing to start on a version without a graph."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.pipeline import derivation
from {{ cookiecutter.package_name }}.serve import holder
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.batching import Job, run_batch
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import publish_tiny

pytestmark = pytest.mark.machinery

# Missing values and a colour the model never saw among ordinary rows.
RECORDS = [
    {"size": 10.5, "count": 2, "colour": "red"},
    {"size": None, "count": 0, "colour": "blue"},
    {"size": 14.0, "count": 7, "colour": None},
    {"size": 9.0, "count": 1, "colour": "purple"},
]


def answers(registry: Registry, runtime: str) -> tuple[dict, dict]:
    """GET /model and POST /predict's answer for RECORDS from a server with this runtime."""
    location = registry.location.rsplit("/", 1)[0]
    settings = Settings(MODEL_REGISTRY=location, model_name="tiny", runtime=runtime)
    with TestClient(create_app(settings)) as client:
        predicted = client.post("/predict", json={"records": RECORDS})
        assert predicted.status_code == 200, predicted.text
        return client.get("/model").json(), predicted.json()


def test_a_version_with_a_graph_serves_through_it_as_scikit_learn_would(registry, mixed_frame):
    publish_tiny(registry, mixed_frame)
    model, onnx = answers(registry, "auto")
    assert model["runtime"] == "onnx"
    skops_model, skops = answers(registry, "skops")
    assert skops_model["runtime"] == "skops"
    assert onnx["predictions"] == skops["predictions"]
    assert np.allclose(onnx["probabilities"], skops["probabilities"], atol=1e-5)


def test_a_version_without_a_graph_serves_through_scikit_learn(registry, mixed_frame):
    publish_tiny(registry, mixed_frame, estimator="gradient_boosting")  # does not convert
    model, predicted = answers(registry, "auto")
    assert model["runtime"] == "skops"
    assert len(predicted["predictions"]) == len(RECORDS)


def test_the_graph_takes_the_checked_columns_directly(registry, mixed_frame, monkeypatch):
    """With a derive() that leaves the rows as they are (derive.py as shipped, for rows
    without dates; these tests' own), no DataFrame is built for a batch: the lean path
    answers as the DataFrame path does."""
    monkeypatch.setattr(holder, "PASS_THROUGH_WITHOUT_DATES", {derivation.code_hash()})
    publish_tiny(registry, mixed_frame)
    location = registry.location.rsplit("/", 1)[0]
    app = create_app(Settings(MODEL_REGISTRY=location, model_name="tiny"))
    with TestClient(app):
        served = app.state.holder.served
    assert served.direct
    check = served.schema.check_records
    parts = [check(RECORDS[:2], 10), check(RECORDS[2:], 10)]
    jobs = [Job(served, rows, future=None) for rows in parts]
    lean = run_batch(served, jobs)
    framed = served.loaded.outputs(served.schema.frame(parts))
    assert [*lean[0]["predictions"], *lean[1]["predictions"]] == framed["predictions"]
    assert np.allclose(
        [*lean[0]["probabilities"], *lean[1]["probabilities"]], framed["probabilities"]
    )


def day_of_year(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(day=frame["day"].dt.day_of_year.astype("float64"))


def test_a_date_column_takes_the_dataframe_path(registry, monkeypatch):
    """derive() turns a date into numbers: the rows go through it, then the graph."""
    monkeypatch.setattr(derivation.derive_module, "derive", day_of_year)
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    frame = pd.DataFrame(
        {"day": days, "size": np.arange(60.0), "target": (np.arange(60) % 7 < 3).astype(int)}
    )
    publish_tiny(registry, frame)
    location = registry.location.rsplit("/", 1)[0]
    app = create_app(Settings(MODEL_REGISTRY=location, model_name="tiny"))
    with TestClient(app) as client:
        assert not app.state.holder.served.direct
        assert client.get("/model").json()["runtime"] == "onnx"
        response = client.post("/predict", json={"records": [{"day": "2024-01-02", "size": 1}]})
        assert response.status_code == 200, response.text


def test_serve_runtime_onnx_refuses_to_start_on_a_version_without_a_graph(
    registry, mixed_frame
) -> None:
    version = publish_tiny(registry, mixed_frame, estimator="gradient_boosting")
    env = {
        **os.environ,
        "MODEL_REGISTRY": registry.location.rsplit("/", 1)[0],
        "SERVE_MODEL_NAME": "tiny",
        "SERVE_RUNTIME": "onnx",
        "SERVE_PORT": "0",
    }
    started = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 1
    (line,) = started.stderr.strip().splitlines()
    assert line.startswith(f"ERROR: SERVE_RUNTIME=onnx, but version {version} has no ONNX graph")
    assert "unset SERVE_RUNTIME" in line


@pytest.mark.parametrize("variable", ["SERVE_RUNTIME=fast", "SERVE_ONNX_THREADS=0"])
def test_a_bad_runtime_setting_is_refused(variable: str, monkeypatch) -> None:
    name, value = variable.split("=")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("SERVE_").lower()):
        Settings(MODEL_REGISTRY="registry", model_name="tiny")
