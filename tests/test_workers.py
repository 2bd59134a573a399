"""Slow tier: SERVE_WORKERS=2 under continuous load through two deploys and a rollback."""

import http.client
import json
import os
import threading
import time

import pytest
import yaml

from .conftest import HIDDEN, bake, free_port, run, server

pytestmark = pytest.mark.slow
POLL = 0.5  # SERVE_POLL_INTERVAL
CONVERGE_WITHIN = 30  # s: a poll or two, plus loading and checking a model on a busy machine
CLIENTS = 8
REQUESTS_PER_CONNECTION = 10  # new connections often, so that both workers take some
PAUSE = 0.02  # s between a client's requests: always some in flight, a core left to the suite
COUNT_PER_WORKER = """
import glob, json, sys
from prometheus_client.multiprocess import MultiProcessCollector
counts = {}
for path in glob.glob(sys.argv[1] + "/counter_*.db"):
    pid = path.rsplit("_", 1)[1].removesuffix(".db")
    counts[pid] = sum(
        sample.value
        for metric in MultiProcessCollector.merge([path], accumulate=False)
        for sample in metric.samples
        if sample.name == "serve_http_requests_total" and sample.labels["route"] == "/predict"
    )
print(json.dumps(counts))
"""


class Load:
    """Clients predicting without pause, each answer kept as (start, status, version)."""

    def __init__(self, port: int, row: dict) -> None:
        self.port, self.body = port, json.dumps({"records": [row]}).encode()
        self.answers: list[tuple[float, int, str | None]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client) for _ in range(CLIENTS)]

    def client(self) -> None:
        while not self.stop.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            for _ in range(REQUESTS_PER_CONNECTION):
                start = time.time()
                try:
                    connection.request(
                        "POST", "/predict", self.body, {"Content-Type": "application/json"}
                    )
                    response = connection.getresponse()
                    response.read()
                    answer = (start, response.status, response.getheader("X-Model-Version"))
                except OSError as error:
                    answer = (start, 0, repr(error))
                self.answers.append(answer)
                time.sleep(PAUSE)
            connection.close()

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_two_workers_follow_each_promotion_without_a_failed_request(tmp_path) -> None:
    root = bake(tmp_path)
    params_path = root / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["train"]["random_forest"]["n_estimators"] = 20  # quick to load: swaps well within a poll
    params["deploy"]["tolerance"] = 0.1  # the changed params below may cost a little AUC
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    run("make install && make repro && make deploy", root)
    manifest = next((root / "registry").glob("*/versions/*/manifest.json"))
    row = json.loads(manifest.read_text())["smoke"]["rows"][0]
    current = manifest.parents[2] / "CURRENT"
    metrics_dir = tmp_path / "metrics"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    env.update(
        SERVE_WORKERS="2",
        SERVE_POLL_INTERVAL=str(POLL),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    promotions: list[tuple[float, str]] = []  # (when CURRENT changed, the version it names)
    lags: list[float] = []  # seconds from each promotion until both workers answer with it

    def promoted(load: Load) -> None:
        """Note the promotion, then wait until the answers carry it (both workers swapped)."""
        since, version = current.stat().st_mtime, current.read_text().split()[0]
        promotions.append((since, version))
        deadline = time.time() + CONVERGE_WITHIN
        while time.time() < deadline:
            time.sleep(POLL)
            recent = [v for start, _, v in load.answers if start >= time.time() - 2 * POLL - 1]
            if len(recent) >= 20 and set(recent) == {version}:
                lags.append(time.time() - 2 * POLL - 1 - since)
                time.sleep(1)  # a second of steady answers before the next change
                return
        pytest.fail(f"the workers did not all serve {version} within {CONVERGE_WITHIN} s")

    with server(["make", "serve", f"PORT={port}"], port, root / "server.log", cwd=root, env=env):
        with Load(port, row) as load:
            promoted(load)
            for leaf in (2, 3):  # two deploys of changed params
                params["train"]["random_forest"]["min_samples_leaf"] = leaf
                params_path.write_text(yaml.safe_dump(params, sort_keys=False))
                run("make repro && make deploy", root)
                promoted(load)
            run("make rollback", root)
            promoted(load)
        per_worker = json.loads(
            run(f".venv/bin/python -c '{COUNT_PER_WORKER}' {metrics_dir}", root).stdout
        )
    answers = load.answers
    failed = [answer for answer in answers if answer[1] != 200]
    assert not failed, f"{len(failed)} of {len(answers)} failed, first: {failed[:3]}"
    assert len({version for _, version in promotions}) == 3, promotions
    assert promotions[-1][1] == promotions[1][1]  # the rollback: back to the first deploy's
    # Between promotions every answer carries the old version or the new one; once a promotion
    # has reached both workers (its lag), no answer goes back to an older version.
    windows = zip(promotions, [*promotions[1:], (1e12, "")], [0.0, *lags[1:]], strict=True)
    previous = promotions[0][1]
    for (since, version), (until, _), lag in windows:
        during = {v for start, _, v in answers if since <= start < until}
        assert during <= {previous, version}, (version, sorted(during))
        settled = {v for start, _, v in answers if since + lag <= start < until}
        assert settled == {version}, (version, lag, sorted(settled))
        previous = version
    busy = [pid for pid, count in per_worker.items() if count > 0]
    assert len(busy) >= 2, f"not both workers answered: {per_worker}"
    lags_shown = [round(lag, 1) for lag in lags[1:]]
    print(f"\n{len(answers)} requests, all 200; per worker: {per_worker}; lags (s): {lags_shown}")
