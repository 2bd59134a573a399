"""GET /metrics: Prometheus' text format, and the counters move with what the server does."""

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.deploy import bundle
from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import publish_tiny

TOKEN = "a-long-random-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROW = {"size": 10.5, "count": 2, "colour": "red"}


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
    assert value(after, "serve_model_version", version=version) == 1


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
    assert value(after, "serve_model_version", version=second) == 1
    assert value(after, "serve_model_version", version=first) == 0
    assert ("serve_model_version", (("version", corrupt),)) not in after
