"""Slow tier: a served project under hostile input - poisoned rows in busy batches, huge bodies."""

import http.client
import json
import os
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

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
    tensors = [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]} for k, v in ROW.items()]
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
