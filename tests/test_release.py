"""Slow tier: release safely on a real server. Production serves a forest and staging a
logistic regression; a shadow sees every request, a canary answers its share, outcomes come
back, make performance reports both versions, and make promote asks for live evidence."""

import http.client
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from .conftest import HIDDEN, bake, free_port, run, server

pytestmark = pytest.mark.slow
CLIENTS = 8
LOAD_SECONDS = 10  # per run; the p99 ratio is printed, benchmarks/serve.py measures it


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The default project: production's version a forest, staging's a linear model."""
    root = bake(tmp_path_factory.mktemp("release"))
    run("make install && make repro && make deploy", root)
    params_path = root / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["train"]["estimator"] = "linear"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    run("make repro && make deploy DEPLOY_ENV=staging", root)
    versions = {
        env: run(f"make --silent version DEPLOY_ENV={env}", root).stdout.strip()
        for env in ("production", "staging")
    }
    assert versions["production"] != versions["staging"]
    return root, versions


def rows_and_truth(root: Path) -> tuple[list[dict], list]:
    script = (
        "import pandas as pd, json; t = pd.read_parquet('data/processed/test.parquet'); "
        "y = t.pop('target'); print(json.dumps([json.loads(t.to_json(orient='records')), "
        "y.tolist()]))"
    )
    rows, truth = json.loads(run(f'.venv/bin/python -c "{script}"', root).stdout)
    return rows, truth


def start(root: Path, port: int, log: Path, **settings: str):
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    env.update(SERVE_POLL_INTERVAL="0.5", **settings)
    return server(["make", "serve", f"PORT={port}"], port, log, cwd=root, env=env)


def load(port: int, rows: list[dict], truth: list, seconds: float) -> tuple[list, Counter, list]:
    """CLIENTS threads on keep-alive connections, one row per request, for `seconds`:
    each request's latency, the versions that answered, and (prediction id, true label)."""
    latencies: list[float] = []
    versions: Counter = Counter()
    labelled: list = []
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        index = number
        while time.monotonic() < deadline:
            row = index % len(rows)
            body = json.dumps({"records": [rows[row]]})
            started = time.perf_counter()
            connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            latencies.append(time.perf_counter() - started)
            assert response.status == 200, answer
            versions[response.getheader("X-Model-Version")] += 1
            labelled.append((answer["prediction_ids"][0], truth[row]))
            index += CLIENTS

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, versions, labelled


def p99(latencies: list[float]) -> float:
    return sorted(latencies)[int(len(latencies) * 0.99)]


def scrape(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/metrics")
    return connection.getresponse().read().decode()


def post(port: int, path: str, body: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def test_shadow_outcomes_performance_and_promotion_on_evidence(released, tmp_path) -> None:
    root, versions = released
    production, staging = versions["production"], versions["staging"]
    rows, truth = rows_and_truth(root)
    port, logs = free_port(), root / "logs"
    with start(root, port, tmp_path / "plain.log"):
        plain, _, _ = load(port, rows, truth, LOAD_SECONDS)
    port = free_port()
    settings = {"SERVE_SHADOW": "staging", "SERVE_PREDICTION_LOG": str(logs)}
    with start(root, port, tmp_path / "shadow.log", **settings):
        shadowed, answered, labelled = load(port, rows, truth, LOAD_SECONDS)
        assert set(answered) == {production}, "every answer comes from production"
        print(f"\nshadow on: p99 x{p99(shadowed) / p99(plain):.2f} of shadow off")
        time.sleep(1)  # the last shadows finish
        compared = [
            line for line in scrape(port).splitlines() if "shadow_compared_rows_total{" in line
        ]
        assert compared and float(compared[0].split()[-1]) > 0.9 * len(labelled)
        sample = labelled[:1000]
        outcomes = [{"prediction_id": i, "label": label} for i, label in sample]
        assert post(port, "/feedback", {"outcomes": outcomes}) == (
            200,
            {"stored": 1000, "already_stored": 0},
        )
    lines = [json.loads(line) for path in logs.glob("predictions*.jsonl") for line in path.open()]
    roles = Counter((line["role"], line["model_version"]) for line in lines)
    assert roles[("primary", production)] == len(labelled)
    assert roles[("shadow", staging)] >= 0.9 * len(labelled)

    run("make performance LOG=logs", root)
    report = json.loads((root / "reports/performance.json").read_text())
    label_of = dict(sample)
    for version in (production, staging):
        entry = report["versions"][version]
        assert entry["rows_with_outcomes"] >= (1000 if version == production else 900)
        predicted = {
            i: p
            for line in lines
            if line["model_version"] == version
            for i, p in zip(line["prediction_ids"], line["outputs"]["predictions"], strict=True)
        }
        pairs = [(label_of[i], predicted[i]) for i in label_of if i in predicted]
        for name, value in by_hand(pairs).items():
            assert entry["metrics"][name]["value"] == pytest.approx(value, abs=1e-12), name
        assert entry["rows_with_outcomes"] == len(pairs)

    params_path = root / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["deploy"]["evidence_rows"] = 5000
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    refused = run("make promote FROM=staging TO=production LOG=logs", root, check=False)
    assert refused.returncode != 0 and "deploy.evidence_rows asks for 5000" in refused.stderr
    params["deploy"]["evidence_rows"] = 500
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    promoted = run("make promote FROM=staging TO=production LOG=logs", root, check=False)
    assert promoted.returncode == 0, promoted.stderr
    assert f"live evidence: {staging}" in promoted.stdout
    assert run("make --silent version", root).stdout.strip() == staging
    run("make rollback", root)  # production's forest again, for the module's other test
    assert run("make --silent version", root).stdout.strip() == production


def by_hand(pairs: list[tuple]) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of class 1 from (actual, predicted) pairs."""
    hits = sum(actual == guess for actual, guess in pairs)
    true_positive = sum(actual == guess == 1 for actual, guess in pairs)
    precision = true_positive / sum(guess == 1 for _, guess in pairs)
    recall = true_positive / sum(actual == 1 for actual, _ in pairs)
    f1 = 2 * precision * recall / (precision + recall)
    return {"accuracy": hits / len(pairs), "precision": precision, "recall": recall, "f1": f1}


def test_a_canary_answers_its_share(released, tmp_path) -> None:
    root, versions = released
    rows, truth = rows_and_truth(root)
    port = free_port()
    counted: Counter = Counter()
    with start(root, port, tmp_path / "canary.log", SERVE_CANARY="staging:20"):
        while sum(counted.values()) < 10_000:
            _, answered, _ = load(port, rows, truth, 2)
            counted.update(answered)
    share = counted[versions["staging"]] / sum(counted.values())
    print(f"\ncanary share over {sum(counted.values())} requests: {share:.1%}")
    assert set(counted) <= set(versions.values())
    assert 0.17 <= share <= 0.23
