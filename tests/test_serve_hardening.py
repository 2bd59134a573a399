"""Slow tier: a served project under hostile input - poisoned rows in busy batches, huge bodies,
many idle connections - and stopped: SIGTERM lets requests in flight finish and loses none
under load, with one worker and with two, also through make serve."""

import contextlib
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as triton

from .conftest import HIDDEN, bake, free_port, run, server

pytestmark = pytest.mark.slow  # make test keeps a module on one worker (--dist loadscope)
ROW = {"size": 10.5, "count": 2, "colour": "red"}
# A model published the way the generated tests do it: seconds, where `make repro` takes a minute.
PUBLISH = """
from {package}.deploy.registry import Registry
from {package}.params import load_params
from tests.conftest import publish_tiny, small_frame

registry = Registry("registry", load_params().deploy.model_name)
print(publish_tiny(registry, small_frame("classification")))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The default project with a tiny model published, served by its own python process."""
    root = bake(tmp_path_factory.mktemp("harden"))
    answers = json.loads((root / ".cruft.json").read_text())["context"]["cookiecutter"]
    package = answers["package_name"]
    run("make install", root)
    run(f".venv/bin/python -c '{PUBLISH.format(package=package)}'", root)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    env.update(SERVE_PORT=str(port), SERVE_HOST="127.0.0.1", MODEL_REGISTRY="registry")
    command = [str(root / ".venv/bin/python"), "-m", package, "serve"]
    with server(command, port, root / "server.log", cwd=root, env=env) as process:
        yield root, port, process.pid


def post(port: int, path: str, body: dict) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        connection.request("POST", path, json.dumps(body).encode(), headers)
        return connection.getresponse().status
    finally:
        connection.close()


def model_name(root: Path) -> str:
    return next((root / "registry").iterdir()).name


def test_a_poisoned_client_fails_no_other_request(served) -> None:
    """8 threads send 200 valid requests while another sends 1e40 in a numeric column over
    and over, in the same micro-batches: every valid request is answered, every poisoned
    one gets a 4xx (before the fix, half of the valid ones got 500)."""
    root, port, _ = served
    v2 = f"/v2/models/{model_name(root)}/infer"
    valid, poisoned, done = Counter(), Counter(), threading.Event()
    datatypes = {"size": "FP64", "count": "INT64", "colour": "BYTES"}
    tensors = [
        {"name": k, "shape": [1], "datatype": datatypes[k], "data": [v]} for k, v in ROW.items()
    ]
    tensors[0]["data"] = [-1e40]

    def client(n: int) -> None:
        for i in range(25):
            valid[post(port, "/predict", {"records": [ROW] * (1 + (n + i) % 3)})] += 1

    def poisoner() -> None:
        while not done.is_set():
            poisoned[post(port, "/predict", {"records": [ROW, {**ROW, "size": 1e40}]})] += 1
            poisoned[post(port, v2, {"inputs": tensors})] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    bad = threading.Thread(target=poisoner)
    bad.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    bad.join()
    assert valid == {200: 200}
    assert poisoned and all(400 <= status < 500 for status in poisoned), poisoned


def memory_kb(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines)
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def send_huge(port: int, path: str, size: int, chunked: bool) -> int:
    """POST `size` bytes of a JSON body (declared, or chunked); the response's status.

    The body is sent from a thread while the response is read: the server answers 413
    and stops reading, so sending the rest may fail, and that is fine."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    framing = b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}".encode()
    head = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n\r\n"
    piece = b'{"records": [' + b'{"size": 1.5, "count": 2, "colour": "red"},' * 24_000

    def send() -> None:
        try:
            sock.sendall(head % (path.encode(), framing))
            for _ in range(size // len(piece)):
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        except OSError:
            pass

    sender = threading.Thread(target=send)
    sender.start()
    try:
        reply = sock.makefile("rb").readline()
    finally:
        sock.close()
        sender.join()
    return int(reply.split()[1])


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_body_gets_413_without_the_memory(served, chunked: bool) -> None:
    """To each protocol: 413, and memory (now and peak) grows under 50 MB; then three at
    once to each: the health check keeps answering within a second (it took 2.6 s)."""
    root, port, pid = served
    paths = ["/predict", f"/v2/models/{model_name(root)}/infer"]
    before = memory_kb(pid)
    assert [send_huge(port, path, 50 << 20, chunked) for path in paths] == [413, 413]
    after = memory_kb(pid)
    growth = {key: (after[key] - before[key]) // 1024 for key in after}
    assert all(mb < 50 for mb in growth.values()), f"MB grown: {growth}"
    paths *= 3
    statuses: list[int] = []
    senders = [
        threading.Thread(target=lambda p=p: statuses.append(send_huge(port, p, 50 << 20, chunked)))
        for p in paths
    ]
    for sender in senders:
        sender.start()
    slowest = 0.0
    while any(sender.is_alive() for sender in senders) or not slowest:
        start = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/health/live")
        assert connection.getresponse().status == 200
        connection.close()
        slowest = max(slowest, time.monotonic() - start)
    for sender in senders:
        sender.join()
    assert statuses == [413] * len(paths)
    assert slowest < 1, f"/health/live took {slowest:.2f} s"
    assert post(port, "/predict", {"records": [ROW]}) == 200


# Stopping: the server's own processes, one worker and two, from the same bake.
DRAIN_SECONDS = 15


def metric_lines(port: int, name: str) -> list[str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def serving_workers(port: int) -> int:
    """Workers whose /metrics series says they serve a version (a `pid` label each)."""
    served = [line for line in metric_lines(port, "serve_model_version") if line.endswith(" 1.0")]
    return len(served)


@pytest.fixture
def start_server(served, tmp_path):
    """Start `python -m <package> serve` with so many workers; wait until each serves."""
    root = served[0]
    processes = []

    def start(workers: int, open_files: int | None = None) -> tuple[subprocess.Popen, int]:
        """`open_files`: the server's soft limit on open files, as a shell may set it."""
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(
            SERVE_PORT=str(port),
            MODEL_REGISTRY="registry",
            SERVE_WORKERS=str(workers),
            SERVE_DRAIN_TIMEOUT=str(DRAIN_SECONDS),
        )
        log = (tmp_path / "server.log").open("wb")
        package = next((root / "src").iterdir()).name
        command = [str(root / ".venv/bin/python"), "-m", package, "serve"]
        # Its own process group: a failed test stops the workers too, not the parent alone.
        process = subprocess.Popen(
            command,
            env=env,
            cwd=root,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=(lambda: soft_limit_on_open_files(open_files)) if open_files else None,
        )
        processes.append(process)
        deadline = time.monotonic() + 180  # a busy machine takes a while to start two workers
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if serving_workers(port) == workers:
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


def whole_response(connection: socket.socket) -> bytes:
    """One response read to its last byte (by its Content-Length), and no further."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(65536)
    head = answer.split(b"\r\n\r\n", 1)[0]
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(answer) < len(head) + 4 + length:
        answer += connection.recv(65536)
    return answer


def stop_with_requests_in_flight(process: subprocess.Popen, port: int) -> None:
    """Requests whose bodies are still arriving when SIGTERM comes all get 200; the server
    then exits 0, well within SERVE_DRAIN_TIMEOUT."""
    body = json.dumps({"records": [ROW]}).encode()
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


def test_sigterm_lets_requests_in_flight_finish(start_server) -> None:
    stop_with_requests_in_flight(*start_server(1))


def test_two_workers_share_their_metrics_and_drain_on_sigterm(start_server) -> None:
    """Each worker serves the model; any scrape sums both workers' counters (the total
    matches what the clients sent, on new connections each time); SIGTERM drains both."""
    process, port = start_server(2)  # waits until /metrics shows two workers serving
    for _ in range(20):
        assert post(port, "/predict", {"records": [ROW]}) == 200
    # A request is counted as its response ends, so the last count may land just after the
    # client has its answer: wait a moment for it, then every scrape must say exactly 20.
    deadline = time.monotonic() + 5
    while predictions_counted(port) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(3):  # whichever worker answers the scrape
        assert predictions_counted(port) == 20
    stop_with_requests_in_flight(process, port)


def predictions_counted(port: int) -> float:
    """The /predict requests answered 200, summed over the workers."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metric_lines(port, "serve_http_requests_total")
        if 'route="/predict"' in line and 'status="200"' in line
    )


# Slow clients: a head must arrive within SERVE_READ_TIMEOUT of the connection opening or
# of the last response; uvicorn alone waits forever for a half-sent one.


def closed_after(connection: socket.socket) -> float:
    """Seconds until the server closes the connection (it sends nothing)."""
    start = time.monotonic()
    connection.settimeout(10)
    assert connection.recv(100) == b""
    return time.monotonic() - start


@pytest.fixture(scope="module")
def impatient(served, tmp_path_factory):
    """A second server of the same bake, with SERVE_READ_TIMEOUT=1; its port."""
    root = served[0]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    env.update(SERVE_PORT=str(port), MODEL_REGISTRY="registry", SERVE_READ_TIMEOUT="1")
    package = next((root / "src").iterdir()).name
    command = [str(root / ".venv/bin/python"), "-m", package, "serve"]
    log = tmp_path_factory.mktemp("impatient") / "server.log"
    with server(command, port, log, cwd=root, env=env):
        yield port


@pytest.mark.parametrize("sent", [b"", b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Ty"])
def test_a_half_sent_head_or_a_silent_connection_is_closed(impatient: int, sent: bytes) -> None:
    with socket.create_connection(("127.0.0.1", impatient)) as connection:
        connection.sendall(sent)
        assert closed_after(connection) < 3


def test_a_keep_alive_client_is_timed_from_its_last_response(impatient: int) -> None:
    with socket.create_connection(("127.0.0.1", impatient), timeout=5) as connection:
        for _ in range(3):  # 1.5 s in all, each request within 1 s of the last answer
            time.sleep(0.5)
            connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            assert whole_response(connection).startswith(b"HTTP/1.1 200")
        connection.sendall(b"GET /health/live HTTP/1.1\r\n")
        assert closed_after(connection) < 3


# Many idle connections: uvicorn's limit_concurrency counted them, so 1,000 half-sent heads
# made every route answer 503, the liveness probe's included.


def soft_limit_on_open_files(wanted: int) -> None:
    """Set this process's soft limit on open files (within its hard limit)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def timed_get(port: int, path: str) -> tuple[int, float]:
    start = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - start
    finally:
        connection.close()


IDLE_CONNECTIONS = 1050


def test_health_answers_while_many_idle_connections_are_held(start_server) -> None:
    """1,050 connections that sent part of a head and wait: the server (started with the
    common soft limit of 1,024 open files) takes them all, and the health checks, /metrics
    and predictions still answer 200 within a second."""
    soft_limit_on_open_files(IDLE_CONNECTIONS + 1024)  # this process holds them all
    process, port = start_server(1, open_files=1024)
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
            connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
            idle.append(connection)
        deadline = time.monotonic() + 10
        while len(os.listdir(f"/proc/{process.pid}/fd")) < IDLE_CONNECTIONS:
            assert time.monotonic() < deadline, "the server did not accept every connection"
            time.sleep(0.1)
        answers = {
            path: timed_get(port, path)
            for path in ("/health/live", "/health/ready", "/v2/health/ready", "/metrics")
        }
        assert post(port, "/predict", {"records": [ROW]}) == 200
    finally:
        for connection in idle:
            connection.close()
    assert {path: status for path, (status, _) in answers.items()} == dict.fromkeys(answers, 200)
    slowest = max(seconds for _, seconds in answers.values())
    print(f"\nslowest health answer with {IDLE_CONNECTIONS} idle connections: {slowest:.3f} s")
    assert slowest < 1


# SIGTERM under load: with two workers, uvicorn's supervisor kept listening until both had
# drained and exited, and reset the connections queued meanwhile (16 and 17 under 16 threads).
LOAD_THREADS = 8


def fresh_connection_load(port: int, stop: threading.Event, outcomes: Counter) -> None:
    """One client: a new connection per request until `stop`; each outcome counted: the
    status, `refused` (nothing was sent, so a client may retry elsewhere), or `lost` (sent,
    then reset or closed unanswered)."""
    body = json.dumps({"records": [ROW]}).encode()
    request = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )
    while not stop.is_set():
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            outcomes["refused"] += 1
            time.sleep(0.01)
            continue
        try:
            connection.sendall(request)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
            outcomes[answer.split(b" ", 2)[1].decode() if answer else "lost"] += 1
        except OSError:
            outcomes["lost"] += 1
        finally:
            connection.close()


def test_sigterm_under_load_loses_no_request_with_two_workers(start_server) -> None:
    process, port = start_server(2)
    stop, outcomes = threading.Event(), Counter()
    clients = [
        threading.Thread(target=fresh_connection_load, args=(port, stop, outcomes))
        for _ in range(LOAD_THREADS)
    ]
    for client in clients:
        client.start()
    try:
        time.sleep(1.5)
        answered_before = outcomes["200"]
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=DRAIN_SECONDS + 10)
        time.sleep(0.3)  # new connections are refused now
    finally:
        stop.set()
        for client in clients:
            client.join()
    print(f"\nSIGTERM under load, two workers: {dict(outcomes)}")
    assert code == 0 and answered_before > 0 and outcomes["refused"] > 0
    assert set(outcomes) == {"200", "refused"}, outcomes


def test_sigterm_to_make_serve_stops_the_server(served) -> None:
    """make serve execs the server, so the SIGTERM make passes on to its recipe reaches it
    (through a shell it did not, and the server kept listening after make had gone)."""
    root = served[0]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    env.update(MODEL_REGISTRY="registry")
    make = subprocess.Popen(
        ["make", "serve", f"PORT={port}"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while timed_get_or_none(port, "/health/ready") != 200:
            assert make.poll() is None and time.monotonic() < deadline, "make serve did not serve"
            time.sleep(0.2)
        make.send_signal(signal.SIGTERM)  # to make alone, as a supervisor would
        make.wait(timeout=30)
        deadline = time.monotonic() + DRAIN_SECONDS
        while timed_get_or_none(port, "/health/live") is not None:
            assert time.monotonic() < deadline, "the server still listens after make stopped"
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)


def timed_get_or_none(port: int, path: str) -> int | None:
    """The status of GET `path`, or None when nothing listens."""
    try:
        return timed_get(port, path)[0]
    except OSError:
        return None


def test_tritonclient_predicts_as_the_rest_api_does(served) -> None:
    """The stock Open Inference Protocol client, as its users call it: it posts JSON with no
    Content-Type (it got 415), with each input's datatype from the model's metadata."""
    root, port, _ = served
    name = model_name(root)
    client = triton.InferenceServerClient(f"127.0.0.1:{port}")
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(name)
    rows = [ROW, {**ROW, "size": 7.5, "colour": "blue"}]
    inputs = []
    for tensor in client.get_model_metadata(name)["inputs"]:
        values = [row[tensor["name"]] for row in rows]
        kind = np.float64 if tensor["datatype"] == "FP64" else np.object_
        data = triton.InferInput(tensor["name"], [len(rows)], tensor["datatype"])
        data.set_data_from_numpy(np.array(values, dtype=kind), binary_data=False)
        inputs.append(data)
    result = client.infer(name, inputs)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(
        "POST", "/predict", json.dumps({"records": rows}), {"Content-Type": "application/json"}
    )
    expected = json.loads(connection.getresponse().read())
    connection.close()
    assert result.as_numpy("predict").tolist() == expected["predictions"]
    assert result.as_numpy("predict_proba").tolist() == expected["probabilities"]
    assert result.get_response()["model_version"] == expected["model_version"]
