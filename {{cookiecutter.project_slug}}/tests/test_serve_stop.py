"""The real server process: several workers, and a SIGTERM that lets requests finish.

The server runs in processes of its own, with your derive.py: its model is trained on rows
shaped like your data (project_data)."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.serve.main import METRICS_DIR, metrics_folder
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import project_row, publish_project

pytestmark = pytest.mark.project_data

DRAIN_SECONDS = 15


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def serving_pids(port: int) -> set[str]:
    """The worker processes /metrics shows serving a version (a `pid` label per worker)."""
    _, text = get(port, "/metrics")
    return {
        sample.labels.get("pid", "one process")
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == "serve_model_version" and sample.value == 1
    }


@pytest.fixture
def start_server(registry: Registry, tmp_path):
    """Start `python -m <package> serve` with so many workers; wait until each serves."""
    publish_project(registry)
    processes = []

    def start(workers: int) -> tuple[subprocess.Popen, int]:
        port = free_port()
        env = {
            **os.environ,
            "MODEL_REGISTRY": registry.location.rsplit("/", 1)[0],
            "SERVE_MODEL_NAME": "tiny",
            "SERVE_PORT": str(port),
            "SERVE_WORKERS": str(workers),
            "SERVE_DRAIN_TIMEOUT": str(DRAIN_SECONDS),
        }
        env.pop(METRICS_DIR, None)
        log = (tmp_path / "server.log").open("wb")
        command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve"]
        # Its own process group: a failed test stops the workers too, not the parent alone.
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=log, stderr=log, start_new_session=True
        )
        processes.append(process)
        deadline = time.monotonic() + 180  # a busy machine takes a while to start two workers
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if len(serving_pids(port)) == workers:
                    return process, port
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stop_with_requests_in_flight(process: subprocess.Popen, port: int) -> None:
    """Requests whose bodies are still arriving when SIGTERM comes all get 200; the server
    then exits 0, well within SERVE_DRAIN_TIMEOUT."""
    body = orjson.dumps({"records": [project_row()]})
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(6)]
    for connection in connections:  # a whole request first: a worker has taken the connection
        connection.sendall(head + body)
        assert whole_response(connection).startswith(b"HTTP/1.1 200")
    for connection in connections:
        connection.sendall(head + body[:10])
    time.sleep(1)  # the heads are in: these requests are in flight
    stopped = time.monotonic()
    process.send_signal(signal.SIGTERM)
    time.sleep(1)
    for connection in connections:
        connection.sendall(body[10:])
    for connection in connections:
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk  # the server closes the connection after answering
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert b'"predictions"' in answer
        connection.close()
    assert process.wait(timeout=DRAIN_SECONDS + 10) == 0
    assert time.monotonic() - stopped < DRAIN_SECONDS


def whole_response(connection: socket.socket) -> bytes:
    """One response read to its last byte (by its Content-Length), and no further."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(65536)
    head = answer.split(b"\r\n\r\n", 1)[0]
    length = int(
        next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        ).split(b":")[1]
    )
    while len(answer) < len(head) + 4 + length:
        answer += connection.recv(65536)
    return answer


def test_sigterm_lets_requests_in_flight_finish(start_server) -> None:
    stop_with_requests_in_flight(*start_server(1))


def test_two_workers_share_their_metrics_and_drain_on_sigterm(start_server) -> None:
    """Each worker serves the model; any scrape sums both workers' counters (the total
    matches what the clients sent, on new connections each time); SIGTERM drains both."""
    process, port = start_server(2)  # waits until /metrics shows two workers serving
    body = orjson.dumps({"records": [project_row()]})
    for _ in range(20):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
        assert connection.getresponse().status == 200
        connection.close()
    # A request is counted as its response ends, so the last count may land just after the
    # client has its answer: wait a moment for it, then every scrape must say exactly 20.
    deadline = time.monotonic() + 5
    while predictions_counted(port) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(3):  # whichever worker answers the scrape
        assert predictions_counted(port) == 20
    stop_with_requests_in_flight(process, port)


def predictions_counted(port: int) -> float:
    _, text = get(port, "/metrics")
    counts = {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == "serve_http_requests_total"
    }
    return counts.get((("route", "/predict"), ("status", "200")), 0.0)


def test_metrics_folder(tmp_path, monkeypatch) -> None:
    """A given folder is emptied of an earlier run's values; several workers without one get
    a private folder, removed at the end; one worker keeps its metrics in memory."""
    monkeypatch.delenv(METRICS_DIR, raising=False)
    with metrics_folder(1):
        assert METRICS_DIR not in os.environ
    with metrics_folder(2):
        private = Path(os.environ[METRICS_DIR])
        assert private.is_dir()
    assert METRICS_DIR not in os.environ and not private.exists()
    (tmp_path / "counter_123.db").write_bytes(b"old")
    monkeypatch.setenv(METRICS_DIR, str(tmp_path))
    with metrics_folder(2):
        assert not (tmp_path / "counter_123.db").exists()


def test_the_prediction_log_takes_one_worker() -> None:
    with pytest.raises(SystemExit, match="SERVE_PREDICTION_LOG is set with SERVE_WORKERS=2"):
        Settings(model_name="tiny", workers=2, prediction_log="logs").check_workers()
    Settings(model_name="tiny", workers=1, prediction_log="logs").check_workers()
    Settings(model_name="tiny", workers=2).check_workers()
