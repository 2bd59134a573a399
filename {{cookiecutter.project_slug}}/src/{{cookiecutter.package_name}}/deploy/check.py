"""`make ci`'s deploy check: deploy to a throwaway registry, then serve the version and ask
for one prediction (or, baked without a server, load it back with every check)."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import PipelineError
from ..params import load_params
from . import release
from .bundle import load_version
from .registry import PRODUCTION

READY_TIMEOUT = 60.0
PACKAGE = __package__.partition(".")[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json_or_text(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json_or_text(error.read())


def json_or_text(body: bytes) -> dict:
    """An error's body as JSON, or its start as text (a proxy's HTML page, say)."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return {"body": body[:200].decode(errors="replace")}
    return answer if isinstance(answer, dict) else {"body": answer}


@contextmanager
def local_server(registry: str, model_name: str, env: str = PRODUCTION) -> Iterator[str]:
    """The real server on a free loopback port, following environment `env` of the
    registry; yields its URL once it is ready, and stops it after."""
    port = free_port()
    variables = {
        **os.environ,
        "MODEL_REGISTRY": registry,
        "SERVE_MODEL_NAME": model_name,
        "DEPLOY_ENV": env,
        "SERVE_PORT": str(port),
        "SERVE_HOST": "127.0.0.1",
    }
    server = subprocess.Popen([sys.executable, "-m", PACKAGE, "serve"], env=variables)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                if call(f"{base}/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise PipelineError(f"the server did not become ready on port {port}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def serve_and_predict(registry: str, manifest: dict) -> str:
    """Start the real server on a free loopback port, predict the smoke rows, stop it."""
    with local_server(registry, manifest["name"]) as base:
        status, answer = call(f"{base}/predict", {"records": manifest["smoke"]["rows"][:1]})
        if status != 200 or answer.get("model_version") != manifest["version"]:
            raise PipelineError(f"the served prediction failed: {status} {answer}")
        served = readable(answer["predictions"])
        return f"deploy check passed: version {manifest['version']} served {served} at {base}"


def readable(predictions: list) -> list:
    """Predictions as printed for a person: floats to 12 significant digits, which drops
    binary noise (21.246999999999993 shows as 21.247); what the server answers is unchanged."""
    return [float(f"{value:.12g}") if isinstance(value, float) else value for value in predictions]


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as scratch:
        os.environ["MODEL_REGISTRY"] = scratch
        print(release.deploy(PRODUCTION))  # whatever DEPLOY_ENV says: a throwaway registry
        store = release.registry(load_params())
        manifest = store.manifest(release.served_version(store, PRODUCTION))
        if importlib.util.find_spec(f"{PACKAGE}.serve") is None:  # baked with serving=none
            version = load_version(store, manifest["version"]).version
            print(f"deploy check passed: version {version} loads and passes its checks")
        else:
            print(serve_and_predict(scratch, manifest))
