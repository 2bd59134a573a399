"""Slow tier: a baked project deploys, serves on a real port and swaps models under load."""

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from .conftest import HIDDEN, bake, free_port, run, server, tool

pytestmark = pytest.mark.slow  # make test keeps a module on one worker (--dist loadscope)
TOKEN = "slow-test-admin-token-0123456789"


class Client:
    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, dict]:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        self.connection.request(
            method, path, data, {"Content-Type": "application/json", **(headers or {})}
        )
        response = self.connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload or b"{}"), dict(response.getheaders())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The default project after repro and deploy, its server running on a free port."""
    root = bake(tmp_path_factory.mktemp("serve"))
    run("make install && make repro && make deploy", root)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    env.update(
        SERVE_ADMIN_TOKEN=TOKEN, SERVE_POLL_INTERVAL="0.5", SERVE_PREDICTION_LOG=str(root / "logs")
    )
    # Its own process group: stopping it stops make and the server make started. Uvicorn
    # listens once startup has loaded the model, so the port means ready.
    command = ["make", "serve", f"PORT={port}"]
    with server(command, port, root / "server.log", cwd=root, env=env):
        assert Client(port).call("GET", "/health/ready")[0] == 200
        yield root, port


def smoke_row(root: Path) -> dict:
    registry = next((root / "registry").glob("*/versions/*/manifest.json"))
    return json.loads(registry.read_text())["smoke"]["rows"][0]


def test_endpoints_answer_with_the_model_version(served) -> None:
    root, port = served
    client, row = Client(port), smoke_row(root)
    status, body, headers = client.call("POST", "/predict", {"records": [row]})
    assert status == 200 and body["model_version"] == headers["x-model-version"]
    status, model, _ = client.call("GET", "/model")
    assert status == 200 and model["version"] == body["model_version"]
    assert "smoke" not in model and client.call("GET", "/admin/model")[0] == 401
    inputs = [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]} for k, v in row.items()]
    status, answer, _ = client.call("POST", f"/v2/models/{model['name']}/infer", {"inputs": inputs})
    assert status == 200 and answer["model_version"] == body["model_version"]
    assert client.call("POST", "/admin/reload")[0] == 401
    bad = [b"{", {"records": [{**row, "extra": 1}]}, {"records": [{"x": 1}]}, {"records": []}]
    assert all(400 <= client.call("POST", "/predict", body)[0] < 500 for body in bad)


def test_the_model_card_make_deploy_wrote_is_served(served) -> None:
    """The served version's card.md, as Markdown, and as a page that runs nothing."""
    root, port = served
    version = Client(port).call("GET", "/model")[1]["version"]
    written = next((root / "registry").glob(f"*/versions/{version}/card.md")).read_text()
    assert "## Test metrics" in written and "## Intended use" in written
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/model/card")
    answer = connection.getresponse()
    assert answer.status == 200 and answer.getheader("content-type").startswith("text/markdown")
    assert answer.read().decode() == written
    connection.request("GET", "/model/card?format=html")
    page = connection.getresponse()
    assert page.status == 200 and page.getheader("content-type").startswith("text/html")
    assert "default-src 'none'" in page.getheader("content-security-policy")
    assert f" {version}</h1>" in page.read().decode()


def logged_lines(root: Path) -> list[str]:
    return [line for path in (root / "logs").glob("predictions*.jsonl") for line in path.open()]


def test_concurrent_requests_are_logged_one_whole_line_each(served) -> None:
    """16 clients x 500 requests: exactly 8,000 new lines, each a whole JSON record."""
    root, port = served
    row = smoke_row(root)
    before = len(logged_lines(root))
    statuses = Counter()

    def client() -> None:
        connection = Client(port)
        for _ in range(500):
            statuses[connection.call("POST", "/predict", {"records": [row]})[0]] += 1

    workers = [threading.Thread(target=client) for _ in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    deadline = time.monotonic() + 30  # the writer thread trails the responses
    while len(logged_lines(root)) < before + 8000 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert statuses == {200: 8000}
    lines = logged_lines(root)
    assert len(lines) == before + 8000
    entries = [json.loads(line) for line in lines]
    assert all(
        entry["inputs"] == [row] and len(entry["outputs"]["predictions"]) == 1 for entry in entries
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    _, model, _ = Client(port).call("GET", "/admin/model", headers=auth)
    assert model["prediction_log"]["error"] is None
    assert model["prediction_log"]["written"] == len(lines)
    # The logs are a batch for the monitor: usable (exit 0 or 1, never 2).
    result = run("make monitor DATA=logs", root, check=False)
    assert "wrote reports/drift.json" in result.stdout, result.stdout + result.stderr
    assert json.loads((root / "reports/drift.json").read_text())["rows"] == len(lines)


def test_deploys_and_rollbacks_under_load_fail_no_request(served) -> None:
    """16 clients keep predicting while models are deployed, a corrupt one is promoted
    and two rollbacks happen: every answer is 2xx, the corrupt one never serves."""
    root, port = served
    row = smoke_row(root)
    statuses, versions, stop = Counter(), Counter(), threading.Event()

    def hammer() -> None:
        client = Client(port)
        while not stop.is_set():
            status, _, headers = client.call("POST", "/predict", {"records": [row]})
            statuses[status] += 1
            versions[headers.get("x-model-version")] += 1
            time.sleep(0.02)  # always some requests in flight, and a core left to the suite

    workers = [threading.Thread(target=hammer) for _ in range(16)]
    for worker in workers:
        worker.start()
    try:
        params = yaml.safe_load((root / "params.yaml").read_text())
        params["deploy"]["tolerance"] = 0.1  # the seeds below may cost a little AUC
        for seed in (1, 2, 3, 4):  # with the first, five deploys
            params["train"]["seed"] = seed
            (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            run("make repro && make deploy", root)
            time.sleep(2)
        corrupt = run(
            '.venv/bin/python -c "from my_ml_project.deploy.registry import Registry as R; '
            "r = R('registry', 'my-ml-project'); v = r.current(); m = r.manifest(v); "
            "files = {n: r.read(v, n) for n in m['sha256']}; files['model.skops'] += b'x'; "
            "n = r.publish(files, m, 'corrupt'); r.promote(n); print(n)\"",
            root,
        ).stdout.strip()
        time.sleep(2)
        run("make rollback && sleep 2 && make rollback", root)
        time.sleep(2)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert set(statuses) == {200}, statuses
    assert corrupt not in versions
    assert len(versions) >= 3, versions
    print(f"\n{sum(statuses.values())} requests, all 200; versions served: {dict(versions)}")
    assert sum(statuses.values()) > 100


def test_generated_requests_never_get_a_server_error(served, tmp_path) -> None:
    """Schemathesis sends hundreds of cases generated from the OpenAPI schema: no 5xx."""
    _, port = served
    schemathesis = Path(sys.executable).with_name("schemathesis")
    options = ["--checks", "not_a_server_error", "--max-examples", "40", "--seed", "1"]
    url = f"http://127.0.0.1:{port}/openapi.json"
    result = subprocess.run(
        [schemathesis, "run", url, *options],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    generated = re.search(r"(\d+) generated", result.stdout)
    assert generated and int(generated.group(1)) >= 200, result.stdout[-2000:]


ROWS_SCRIPT = """
import json, sys
import numpy as np, pandas as pd
frame = pd.read_parquet("data/raw/dataset.parquet").drop(columns="target")
# The data's rows, and as many again with each value moved by up to 5%: 1,000 in all.
noise = np.random.default_rng(0).uniform(0.95, 1.05, size=frame.shape)
rows = pd.concat([frame, frame * noise]).head(1000)
json.dump(rows.to_dict(orient="records"), sys.stdout)
"""


def test_the_graph_answers_as_scikit_learn_does_for_1000_rows(served) -> None:
    """The default bake's version serves through its ONNX graph; a server of the same
    version with SERVE_RUNTIME=skops gives the same labels for 1,000 rows, probabilities
    within 1e-5."""
    root, port = served
    assert Client(port).call("GET", "/model")[1]["runtime"] == "onnx"
    python = str(root / ".venv" / "bin" / "python")
    printed = subprocess.run([python, "-c", ROWS_SCRIPT], cwd=root, capture_output=True, check=True)
    rows = json.loads(printed.stdout)
    assert len(rows) == 1000
    skops_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    env.update(SERVE_RUNTIME="skops")
    command = ["make", "serve", f"PORT={skops_port}"]
    with server(command, skops_port, root / "skops-server.log", cwd=root, env=env):
        skops = Client(skops_port)
        assert skops.call("GET", "/model")[1]["runtime"] == "skops"
        status, expected, _ = skops.call("POST", "/predict", {"records": rows})
    assert status == 200
    status, got, _ = Client(port).call("POST", "/predict", {"records": rows})
    assert status == 200
    assert got["predictions"] == expected["predictions"]
    pairs = zip(got["probabilities"], expected["probabilities"], strict=True)
    differences = [abs(a - b) for ours, theirs in pairs for a, b in zip(ours, theirs, strict=True)]
    assert max(differences) <= 1e-5


def test_make_sbom_lists_the_installed_packages_at_their_locked_versions(served) -> None:
    root, _ = served
    run("make sbom", root)
    bom = json.loads((root / "reports/sbom.cdx.json").read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5"
    listed = {component["name"]: component["version"] for component in bom["components"]}
    assert len(listed) == len(bom["components"]), "one version of each package"
    locked: dict[str, set] = {}
    lock = (root / "uv.lock").read_text()
    for name, version in re.findall(r'^name = "([^"]+)"\nversion = "([^"]+)"', lock, re.M):
        locked.setdefault(name, set()).add(version)
    modules = ("sklearn", "dvc", "fastapi")
    script = f"import {', '.join(modules)}; print({', '.join(m + '.__version__' for m in modules)})"
    installed = run(f'.venv/bin/python -c "{script}"', root).stdout.split()
    for name, version in zip(("scikit-learn", "dvc", "fastapi"), installed, strict=True):
        assert listed[name] == version and version in locked[name], name
    assert "pytest" not in listed, "the dev group is not part of what ships"


REGISTRY = Path("/usr/bin/docker-registry")  # Debian's docker-registry: the CNCF distribution
# A one-layer manifest stands for the project's image (building the real one takes podman:
# test_image.py); the project's own environment has oras for `make sbom-attach`.
SUBJECT = """
import oras.client
client = oras.client.OrasClient(hostname="{host}", insecure=True)
open("layer.txt", "w").write("the image")
print(client.push(files=["layer.txt"], target="{host}/project/server:v1").status_code)
"""
# What a registry's referrers API would list: the manifest tagged for the subject.
REFERRER = """
import json, oras.client
client = oras.client.OrasClient(hostname="{host}", insecure=True)
manifest = client.get_manifest("{reference}")
blob = client.get_blob("{reference}", manifest["layers"][0]["digest"]).content
print(json.dumps({{"manifest": manifest, "blob": blob.decode()}}))
"""


def test_make_sbom_attach_pushes_the_sbom_as_the_images_referrer(served, tmp_path) -> None:
    root, _ = served
    registry = tool(REGISTRY, "an OCI registry on loopback", "apt-get install docker-registry")
    port = free_port()
    host = f"127.0.0.1:{port}"
    config = tmp_path / "config.yml"
    storage = tmp_path / "storage"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
        f"http:\n  addr: {host}\n"
    )
    with server([str(registry), "serve", str(config)], port, tmp_path / "registry.log"):
        python = root / ".venv/bin/python"
        assert run(f"{python} -c '{SUBJECT.format(host=host)}'", tmp_path).stdout.strip() == "201"
        run("make sbom", root)
        env = {**os.environ, "REGISTRY_INSECURE": "1"}
        attached = run(f"make sbom-attach IMAGE={host}/project/server:v1", root, env=env).stdout
        [reference] = re.findall(r" as (\S+\.sbom)$", attached, re.M)
        subject = run(
            f"curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "
            f"http://{host}/v2/project/server/manifests/v1",
            tmp_path,
        ).stdout
        [digest] = re.findall(r"^Docker-Content-Digest: (sha256:[0-9a-f]+)", subject, re.M | re.I)
        assert reference == f"{host}/project/server:{digest.replace(':', '-')}.sbom"
        script = REFERRER.format(host=host, reference=reference)
        found = json.loads(run(f"{python} -c '{script}'", tmp_path).stdout)
    assert found["manifest"]["subject"]["digest"] == digest
    assert found["manifest"]["config"]["mediaType"] == "application/vnd.cyclonedx+json"
    assert found["blob"] == (root / "reports/sbom.cdx.json").read_text()
