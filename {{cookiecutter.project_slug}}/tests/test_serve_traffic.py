"""Canary and shadow: which version answers a request, and which one also sees it."""

import json
import time
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.monitoring.monitor import read_logs
from {{ cookiecutter.package_name }}.serve import traffic
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import AUTH, ROW, TOKEN, publish_tiny

pytestmark = pytest.mark.machinery


@pytest.mark.parametrize("value", ["staging", "staging:0", "staging:101", "staging:ten", "../x:5"])
def test_a_bad_canary_setting_is_refused(value) -> None:
    with pytest.raises(ValidationError, match="SERVE_CANARY"):
        Settings(canary=value)


def test_shadow_and_canary_must_be_other_environments() -> None:
    for given in ({"shadow": "production"}, {"canary": "production:5"}):
        with pytest.raises(SystemExit, match="must name different environments"):
            Settings(**given).check_other_environments()
    Settings(shadow="staging", canary="canary:5").check_other_environments()


def test_buckets_split_clients_evenly_and_stay_put() -> None:
    keys = [f"client-{n}" for n in range(10_000)]
    share = sum(traffic.bucket(key) < 0.2 * traffic.BUCKETS for key in keys) / len(keys)
    assert 0.17 <= share <= 0.23
    assert traffic.bucket("client-7") == traffic.bucket("client-7")


def test_agreement_counts_classes_and_measures_regression() -> None:
    assert traffic.agreement([0, 1, 1], [0, 0, 1], classes=[0, 1]) == (2, [])
    agreeing, differences = traffic.agreement([1.0, 0.0, 2.0], [1.0, 0.0, 1.0], classes=None)
    assert agreeing == 2 and differences == [0.0, 0.0, 0.5]


def counted(client, name: str, **labels: str) -> float:
    """A series' value in a scrape (labels sorted, as prometheus-client writes them); 0 when
    absent. Series outlive a test (the registry is the process's): tests compare counts."""
    pairs = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    series = name + "{" + pairs + "} "
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(series):
            return float(line.removeprefix(series))
    return 0.0


@pytest.fixture
def two_versions(registry, mixed_frame, tmp_path):
    """Production serves a forest, staging a linear model; a server starter for them."""
    production = publish_tiny(registry, mixed_frame)
    staging = publish_tiny(registry, mixed_frame, estimator="linear")
    registry.promote(production)  # publish_tiny pointed production at each in turn
    registry.promote(staging, "staging")

    def start(**settings):
        every = {
            "MODEL_REGISTRY": str(registry.location.rsplit("/", 1)[0]),
            "model_name": "tiny",
            "admin_token": TOKEN,
            "prediction_log": str(tmp_path / "logs"),
        }
        return TestClient(create_app(Settings(**(every | settings))))

    return start, production, staging, tmp_path / "logs"


def test_a_canary_answers_its_share_of_clients_each_always_the_same(two_versions) -> None:
    start, _, staging, _ = two_versions
    with start(canary="staging:30") as client:
        answered = Counter()
        for n in range(300):
            headers = {"X-Client-Id": f"client-{n % 100}"}
            answer = client.post("/predict", json={"records": [ROW]}, headers=headers)
            assert answer.status_code == 200
            assert answer.json()["model_version"] == answer.headers["X-Model-Version"]
            answered[(n % 100, answer.headers["X-Model-Version"])] += 1
        assert set(answered.values()) == {3}, "each client stays with one version"
        canaried = sum(version == staging for _, version in answered)
        assert canaried == sum(traffic.bucket(f"client-{n}") < 3000 for n in range(100))
        assert 0 < canaried < 100
        status = client.get("/admin/model", headers=AUTH).json()
        assert status["canary"]["version"] == staging and status["canary"]["share"] == 0.3
        rows = counted(client, "serve_version_predicted_rows_total", version=staging, role="canary")
        assert rows >= canaried * 3


def test_a_canary_follows_its_environments_pointer(two_versions, registry, mixed_frame) -> None:
    start, production, staging, _ = two_versions
    newer = publish_tiny(registry, mixed_frame, estimator="gradient_boosting")
    registry.promote(production)
    with start(canary="staging:100", poll_interval=0.1) as client:
        assert (
            client.post("/predict", json={"records": [ROW]}).headers["X-Model-Version"] == staging
        )
        registry.promote(newer, "staging")
        deadline, answered = time.monotonic() + 10, staging
        while answered != newer and time.monotonic() < deadline:
            time.sleep(0.1)
            answered = client.post("/predict", json={"records": [ROW]}).headers["X-Model-Version"]
        assert answered == newer, "the canary's version was swapped in while serving"


def test_a_shadow_sees_every_request_and_answers_none(two_versions) -> None:
    start, production, staging, logs = two_versions
    with start(shadow="staging") as client:
        series = {"version": production, "shadow": staging}
        before = counted(client, "serve_shadow_compared_rows_total", **series)
        ids = []
        for _ in range(20):
            answer = client.post("/predict", json={"records": [ROW, {**ROW, "size": 1.0}]})
            assert answer.headers["X-Model-Version"] == production
            ids += answer.json()["prediction_ids"]
        deadline = time.monotonic() + 10
        compared = before
        while compared < before + 40 and time.monotonic() < deadline:
            time.sleep(0.05)
            compared = counted(client, "serve_shadow_compared_rows_total", **series)
        assert compared == before + 40
        assert counted(client, "serve_shadow_agreeing_rows_total", **series) > 0
        assert client.get("/admin/model", headers=AUTH).json()["shadow"]["version"] == staging
    lines = [json.loads(line) for line in (logs / "predictions.jsonl").open()]
    roles = Counter((line["role"], line["model_version"]) for line in lines)
    assert roles == {("primary", production): 20, ("shadow", staging): 20}
    shadow_ids = [i for line in lines if line["role"] == "shadow" for i in line["prediction_ids"]]
    assert sorted(shadow_ids) == sorted(ids) and not any(
        "inputs" in line for line in lines if line["role"] == "shadow"
    )
    frame, _, skipped = read_logs(logs, list(ROW))
    assert len(frame) == 40 and not skipped, "the monitor reads the answers' rows once"


def test_a_shadow_share_samples_requests(two_versions) -> None:
    start, *_, logs = two_versions
    with start(shadow="staging", shadow_share=0.25) as client:
        for _ in range(200):
            client.post("/predict", json={"records": [ROW]})
        time.sleep(0.5)
    shadowed = sum(
        json.loads(line)["role"] == "shadow" for line in (logs / "predictions.jsonl").open()
    )
    assert 25 <= shadowed <= 75
