"""Slow tier: a release goes through staging before production, each environment's server
following its own pointer; production gets the very version staging served."""

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from .conftest import HIDDEN, bake, free_port, run, server

pytestmark = pytest.mark.slow
POLL = "0.2"  # SERVE_POLL_INTERVAL: the servers notice a new pointer quickly


def ready(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def serves(port: int, version: str, within: float = 10) -> None:
    """Wait until the server on `port` serves `version`; fail naming what it serves."""
    deadline = time.monotonic() + within
    while (answer := ready(port)) != (200, {"status": "ready", "model_version": version}):
        assert time.monotonic() < deadline, f"port {port} answers {answer}, not {version}"
        time.sleep(0.1)


def pointer(model: Path, name: str) -> str:
    return (model / name).read_text().splitlines()[0]


def checksums(folder: Path) -> dict[str, str]:
    """The manifest's sha256 entries, checked against the files they name."""
    listed = json.loads((folder / "manifest.json").read_text())["sha256"]
    for name, expected in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == expected, name
    return listed


def fingerprint(root: Path) -> dict[str, bytes]:
    """What retraining would change: dvc.lock and the pipeline's model files."""
    files = [root / "dvc.lock", *sorted((root / "models").rglob("*"))]
    return {str(path): path.read_bytes() for path in files if path.is_file()}


def test_staging_then_production(tmp_path: Path) -> None:
    root = bake(tmp_path)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["random_forest"]["n_estimators"] = 20  # quicker to train, still over the gate
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run("make install && make repro && make deploy DEPLOY_ENV=staging", root)
    [model] = (root / "registry").iterdir()
    first = pointer(model, "CURRENT.staging")
    assert not (model / "CURRENT").exists(), "deploying to staging touched production"
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN} | {"SERVE_POLL_INTERVAL": POLL}
    staging, production = free_port(), free_port()
    with (
        server(
            ["make", "serve", "DEPLOY_ENV=staging", f"PORT={staging}"],
            staging,
            tmp_path / "staging.log",
            cwd=root,
            env=env,
        ),
        server(
            ["make", "serve", f"PORT={production}"],
            production,
            tmp_path / "production.log",
            cwd=root,
            env=env,
        ),
    ):
        assert ready(production) == (503, {"status": "no model loaded"})
        serves(staging, first)
        smoke = run(f"make smoke DEPLOY_ENV=staging URL=http://127.0.0.1:{staging}", root)
        assert f"smoke passed: http://127.0.0.1:{staging} serves version {first}" in smoke.stdout

        before, versions = fingerprint(root), sorted((model / "versions").iterdir())
        promoted = run("make promote FROM=staging TO=production", root).stdout
        assert f"promoted version {first} from staging to production" in promoted
        serves(production, first)
        assert pointer(model, "CURRENT") == pointer(model, "CURRENT.staging") == first
        assert fingerprint(root) == before, "promote retrained"
        assert sorted((model / "versions").iterdir()) == versions, "promote published"
        assert checksums(model / "versions" / ready(production)[1]["model_version"]) == checksums(
            model / "versions" / ready(staging)[1]["model_version"]
        )

        # A second model goes to staging only.
        params["train"]["seed"] += 1
        params["deploy"]["tolerance"] = 1.0  # another seed may cost a little
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        run("make repro && make deploy DEPLOY_ENV=staging", root)
        second = pointer(model, "CURRENT.staging")
        assert second != first
        serves(staging, second)
        # Without URL, smoke checks a server of its own that follows the environment.
        smoke = run("make smoke DEPLOY_ENV=staging", root).stdout
        assert "smoke passed: http://127.0.0.1:" in smoke and f"serves version {second}" in smoke
        time.sleep(3 * float(POLL))
        assert ready(production) == (200, {"status": "ready", "model_version": first})

        listing = run("make models", root).stdout.splitlines()
        assert any(
            line.startswith(f"* {first}  ") and line.endswith("[production]") for line in listing
        )
        assert any(
            line.startswith(f"  {second}  ") and line.endswith("[staging]") for line in listing
        )
        assert f"production: {first}" in listing and f"staging: {second}" in listing

        run("make rollback DEPLOY_ENV=staging", root)
        serves(staging, first)
        assert pointer(model, "CURRENT") == first
        listing = run("make models", root).stdout
        assert f"production: {first}" in listing and f"staging: {first}" in listing
        assert "[production, staging]" in listing
