"""GET /metrics: Prometheus' text format, and the counters move with what the server does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.deploy import bundle
from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.serve import metrics
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.main import METRICS_DIR, metrics_folder
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import AUTH, ROW, TOKEN, publish_tiny

pytestmark = pytest.mark.machinery


def samples(client: TestClient) -> dict[tuple, float]:
    """Every sample of GET /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(metrics: dict, name: str, **labels) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def client(registry: Registry, mixed_frame):
    publish_tiny(registry, mixed_frame)
    settings = Settings(
        MODEL_REGISTRY=str(registry.location.rsplit("/", 1)[0]),
        model_name="tiny",
        admin_token=TOKEN,
        poll_interval=60,  # versions change through /admin/reload here
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_prediction_moves_the_counters(client: TestClient) -> None:
    before = samples(client)
    response = client.post("/predict", json={"records": [ROW, ROW, ROW]})
    assert response.status_code == 200
    client.post("/predict", content=b"{}", headers={"Content-Type": "text/plain"})  # 415
    client.get("/no/such/path")
    after = samples(client)

    def moved(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "serve_http_requests_total"
    assert moved(requests, route="/predict", status="200") == 1
    assert moved(requests, route="/predict", status="415") == 1  # answered before routing
    assert moved(requests, route="unmatched", status="404") == 1
    assert moved("serve_http_request_duration_seconds_count", route="/predict") == 2
    assert moved("serve_request_rows_count") == 1 and moved("serve_request_rows_sum") == 3
    assert moved("serve_request_rows_bucket", le="2.0") == 0
    assert moved("serve_request_rows_bucket", le="5.0") == 1
    assert moved("serve_batch_rows_count") == 1 and moved("serve_batch_rows_sum") == 3
    version = response.headers["X-Model-Version"]
    assert value(after, "serve_model_version", version=version, runtime="onnx") == 1


def test_loads_and_refusals_are_counted(client: TestClient, registry: Registry, mixed_frame):
    """A good version loads (its gauge 1, the old one's 0); a corrupt one is refused."""
    first = client.get("/health/ready").json()["model_version"]
    before = samples(client)
    second = publish_tiny(registry, mixed_frame, n_estimators=3)
    assert client.post("/admin/reload", headers=AUTH).json()["model_version"] == second
    corrupt = publish_tiny(registry, mixed_frame, n_estimators=4)
    registry.fs.pipe_file(f"{registry.base}/versions/{corrupt}/{bundle.MODEL_FILE}", b"broken")
    assert client.post("/admin/reload", headers=AUTH).json()["refused"]["version"] == corrupt
    client.post("/admin/reload", headers=AUTH)  # the same refusal again: not counted twice
    after = samples(client)
    assert value(after, "serve_model_loads_total") - value(before, "serve_model_loads_total") == 1
    refusals = "serve_model_refusals_total"
    assert value(after, refusals) - value(before, refusals) == 1
    assert value(after, "serve_model_version", runtime="onnx", version=second) == 1
    for gone in (first, corrupt):  # one process: the first's series dropped, none for corrupt
        assert ("serve_model_version", (("runtime", "onnx"), ("version", gone))) not in after


def test_a_worker_that_died_without_stopping_leaves_no_version_series(tmp_path, monkeypatch):
    """A killed worker (out of memory, say) never marks itself dead: the next scrape does,
    so its last version does not show forever beside the workers uvicorn started instead."""
    worker = (
        "from prometheus_client import Counter, Gauge\n"
        "Gauge('serve_model_version', '', ['version'], multiprocess_mode='liveall')"
        ".labels('0001-abc').set(1)\n"
        "Counter('serve_model_loads', '').inc()\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    dead = subprocess.run([sys.executable, "-c", worker], env=env, check=True)
    assert dead.returncode == 0 and list(tmp_path.glob("gauge_liveall_*.db"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = metrics.render()[0].decode()
    assert "serve_model_version" not in text.replace("# HELP serve_model_version", "")
    assert "serve_model_loads_total 1.0" in text, "a dead worker's counts still add up"
    assert not list(tmp_path.glob("gauge_liveall_*.db"))


def test_metrics_can_be_switched_off(registry: Registry, mixed_frame) -> None:
    """SERVE_METRICS=false: no GET /metrics and nothing counted; predictions as before."""
    publish_tiny(registry, mixed_frame)
    settings = Settings(
        MODEL_REGISTRY=str(registry.location.rsplit("/", 1)[0]), model_name="tiny", metrics=False
    )
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", json={"records": [ROW]}).status_code == 200
        assert client.get("/metrics").status_code == 404
        assert type(client.app.state.holder) is not metrics.MeasuredHolder
        assert type(client.app.state.batcher) is not metrics.MeasuredBatcher


def test_metrics_folder(tmp_path, monkeypatch) -> None:
    """A given folder is rid of an earlier run's values, prometheus-client's files only (a
    user's customers.db stays); several workers without one get a private folder, removed
    at the end; one worker keeps its metrics in memory."""
    monkeypatch.delenv(METRICS_DIR, raising=False)
    with metrics_folder(1):
        assert METRICS_DIR not in os.environ
    with metrics_folder(2):
        private = Path(os.environ[METRICS_DIR])
        assert private.is_dir()
    assert METRICS_DIR not in os.environ and not private.exists()
    ours = ["counter_123.db", "gauge_livesum_123.db", "histogram_9.db", "summary_45.db"]
    theirs = ["customers.db", "counter.db", "gauge_7.db", "histogram_1.db.bak", "notes.txt"]
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"old")
    monkeypatch.setenv(METRICS_DIR, str(tmp_path))
    for workers in (1, 2):  # a given folder is used, and cleaned, with one worker too
        with metrics_folder(workers):
            assert sorted(path.name for path in tmp_path.iterdir()) == sorted(theirs)
        (tmp_path / "counter_123.db").write_bytes(b"old")


def test_the_prediction_log_takes_one_worker() -> None:
    with pytest.raises(SystemExit, match="SERVE_PREDICTION_LOG is set with SERVE_WORKERS=2"):
        Settings(model_name="tiny", workers=2, prediction_log="logs").check_workers()
    Settings(model_name="tiny", workers=1, prediction_log="logs").check_workers()
    Settings(model_name="tiny", workers=2).check_workers()
