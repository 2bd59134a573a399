from pathlib import Path

import pandas as pd
import pytest
import uvicorn
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }} import cli
from {{ cookiecutter.package_name }}.deploy import bundle
from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.pipeline import derivation
from {{ cookiecutter.package_name }}.serve import holder as holder_module
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.holder import ModelHolder
from {{ cookiecutter.package_name }}.serve.inputs import FeatureSchema, InputError
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import ROW, TOKEN, publish_tiny

pytestmark = pytest.mark.machinery


@pytest.fixture
def client(registry: Registry, mixed_frame: pd.DataFrame):
    publish_tiny(registry, mixed_frame)
    settings = Settings(
        MODEL_REGISTRY=str(registry.location.rsplit("/", 1)[0]),
        model_name="tiny",
        admin_token=TOKEN,
        max_request_rows=5,
        poll_interval=60,  # the tests swap versions through /admin/reload, not the watcher
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_health_and_model(client: TestClient) -> None:
    assert client.get("/health/live").status_code == 200
    ready = client.get("/health/ready").json()
    assert ready == {"status": "ready", "model_version": "0001-abc1234"}
    model = client.get("/model").json()
    assert model["name"] == "tiny" and model["version"] == "0001-abc1234"


def test_not_ready_before_a_deploy(tmp_path) -> None:
    settings = Settings(MODEL_REGISTRY=str(tmp_path), model_name="tiny")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/ready").status_code == 503
        assert client.post("/predict", json={"records": [ROW]}).status_code == 503


def test_predict(client: TestClient) -> None:
    response = client.post("/predict", json={"records": [ROW, {**ROW, "size": None}]})
    assert response.status_code == 200
    body = response.json()
    assert len(body["predictions"]) == 2 and len(body["probabilities"][0]) == 2
    assert body["model_version"] == response.headers["X-Model-Version"] == "0001-abc1234"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"rows": []}', "records"),
        (b'{"records": []}', "non-empty"),
        (b'{"records": [{"size": 1, "colour": "red"}]}', "missing column 'count'"),
        (b'{"records": [{"size": 1, "count": 1, "colour": "red", "x": 1}]}', "unknown column 'x'"),
        (b'{"records": [{"size": "big", "count": 1, "colour": "red"}]}', "records[0].size"),
        (b'{"records": [{"size": 1, "count": 1, "colour": 7}]}', "records[0].colour"),
        (b'{"records": [{"size": 1, "count": null, "colour": "red"}]}', "count: null"),
        (b'{"records": [{"size": 1e999, "count": 1, "colour": "red"}]}', "infinity"),
        (
            b'{"records": [' + b",".join([b'{"size":1,"count":1,"colour":"red"}'] * 6) + b"]}",
            "limit of 5",
        ),
        (b"[1, 2]", "records"),
    ],
    ids=[
        "malformed",
        "no-records",
        "empty",
        "missing",
        "unknown",
        "type",
        "text-type",
        "null",
        "inf",
        "too-many",
        "array",
    ],
)
def test_bad_requests_get_4xx_naming_the_field(client: TestClient, body: bytes, field: str) -> None:
    response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert field in response.json()["detail"]


def test_v2_metadata_and_infer(client: TestClient) -> None:
    assert client.get("/v2/health/ready").status_code == 200
    meta = client.get("/v2/models/tiny").json()
    assert [i["name"] for i in meta["inputs"]] == ["size", "count", "colour"]
    assert client.get("/v2/models/tiny/ready").json()["ready"] is True
    request = {
        "id": "42",
        "inputs": [
            {"name": "size", "shape": [2], "datatype": "FP64", "data": [10.5, 7.0]},
            {"name": "count", "shape": [2], "datatype": "INT64", "data": [2, 1]},
            {"name": "colour", "shape": [2], "datatype": "BYTES", "data": ["red", "blue"]},
        ],
    }
    answer = client.post("/v2/models/tiny/infer", json=request).json()
    assert answer["id"] == "42" and answer["model_version"] == "0001-abc1234"
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["predict"]["shape"] == [2]
    assert (
        outputs["predict_proba"]["shape"] == [2, 2] and len(outputs["predict_proba"]["data"]) == 4
    )


def test_v2_errors_follow_the_protocol(client: TestClient) -> None:
    bad = {"inputs": [{"name": "size", "shape": [3], "datatype": "FP64", "data": [1.0]}]}
    response = client.post("/v2/models/tiny/infer", json=bad)
    assert response.status_code == 400 and "shape" in response.json()["error"]
    assert client.get("/v2/models/other").status_code == 404


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 403),
        ({"Authorization": f"Bearer {TOKEN}"}, 200),
    ],
)
def test_admin_needs_the_token(client: TestClient, headers: dict, status: int) -> None:
    assert client.post("/admin/reload", headers=headers).status_code == status


def test_admin_refused_without_configured_token(registry, mixed_frame) -> None:
    publish_tiny(registry, mixed_frame)
    settings = Settings(MODEL_REGISTRY=registry.location.rsplit("/", 1)[0], model_name="tiny")
    with TestClient(create_app(settings)) as client:
        assert client.post("/admin/reload", headers={"Authorization": "Bearer "}).status_code in (
            401,
            403,
        )
        assert (
            client.post("/admin/reload", headers={"Authorization": "Bearer x"}).status_code == 403
        )


def test_hot_swap_and_refusal(client: TestClient, registry: Registry, mixed_frame) -> None:
    """A new version is swapped in on reload; a corrupt one is refused and the old one serves."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    second = publish_tiny(registry, mixed_frame, n_estimators=3)
    assert client.post("/admin/reload", headers=auth).json()["model_version"] == second
    corrupt = publish_tiny(registry, mixed_frame, n_estimators=4)
    path = f"{registry.base}/versions/{corrupt}/{bundle.MODEL_FILE}"
    registry.fs.pipe_file(path, b"not a model")
    reply = client.post("/admin/reload", headers=auth).json()
    assert reply["model_version"] == second and reply["refused"]["version"] == corrupt
    assert client.get("/admin/model", headers=auth).json()["refused"]["version"] == corrupt
    assert client.post("/predict", json={"records": [ROW]}).headers["X-Model-Version"] == second
    rolled = client.post("/admin/rollback", headers=auth).json()
    assert rolled["model_version"] == second  # the version before the corrupt one


def test_an_admin_rollback_to_a_broken_version_is_refused(client, registry, mixed_frame):
    """POST /admin/rollback checks the version it goes back to, as make rollback does: one
    that fails is refused (409, saying why), the pointer and the served version stay."""
    first = "0001-abc1234"
    second = publish_tiny(registry, mixed_frame, n_estimators=3)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/admin/reload", headers=auth).json()["model_version"] == second
    path = f"{registry.base}/versions/{first}/{bundle.MODEL_FILE}"
    registry.fs.pipe_file(path, registry.fs.cat_file(path)[:1000])
    refused = client.post("/admin/rollback", headers=auth)
    assert refused.status_code == 409 and "does not match its sha256" in refused.json()["detail"]
    assert registry.current() == second
    assert client.post("/predict", json={"records": [ROW]}).headers["X-Model-Version"] == second


def test_a_version_of_other_derive_code_is_refused(client, registry, mixed_frame) -> None:
    """A version trained with another derive.py never serves; the one serving stays."""
    with pytest.MonkeyPatch.context() as patch:  # trained by other derive code
        patch.setattr(derivation, "code_hash", lambda: "0123456789ab")
        other = publish_tiny(registry, mixed_frame, n_estimators=3)
    reply = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert reply["model_version"] == "0001-abc1234" and reply["refused"]["version"] == other
    assert "was trained with derive code 0123456789ab" in reply["refused"]["reason"]


class Clock:
    """time.monotonic for the model holder, moved on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_a_version_missing_a_file_for_a_moment_is_tried_again(registry, mixed_frame, monkeypatch):
    """A read that fails (a file missing while storage catches up) refuses the version for
    now: it is tried again after 1 s, then twice as long each time, and serves once the
    file is back (it was refused for good, and replicas stayed on different versions)."""
    clock = Clock()
    monkeypatch.setattr(holder_module, "time", clock)
    publish_tiny(registry, mixed_frame)
    holder = ModelHolder(registry)
    assert holder.sync() == "0001-abc1234"
    second = publish_tiny(registry, mixed_frame, n_estimators=3)
    model = Path(f"{registry.base}/versions/{second}/{bundle.MODEL_FILE}")
    model.rename(model.with_suffix(".away"))
    assert holder.sync() == "0001-abc1234"
    assert holder.refused == {
        "version": second,
        "reason": f"{registry.location}: version {second} has no {bundle.MODEL_FILE}",
        "retrying": True,
    }
    clock.now += 1
    assert holder.sync() == "0001-abc1234"  # still missing: the next try waits 2 s
    model.with_suffix(".away").rename(model)
    clock.now += 1.5
    assert holder.sync() == "0001-abc1234"  # not yet due
    clock.now += 0.5
    assert holder.sync() == second and holder.refused is None


def test_a_failed_check_is_not_tried_again_until_an_admin_reload(client, registry, mixed_frame):
    """A checksum failure is the version's own: polls do not load it again however long
    they wait, but POST /admin/reload tries again (here, once the file is repaired)."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    holder = client.app.state.holder
    broken = publish_tiny(registry, mixed_frame, n_estimators=3)
    path = f"{registry.base}/versions/{broken}/{bundle.MODEL_FILE}"
    good = registry.fs.cat_file(path)
    registry.fs.pipe_file(path, good[:1000])
    refused = client.post("/admin/reload", headers=auth).json()["refused"]
    assert refused["version"] == broken and refused["retrying"] is False
    loads: list[str] = []
    load = holder_module.load_version
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(holder_module, "load_version", lambda *a: loads.append(a[1]) or load(*a))
        patch.setattr(holder_module, "time", Clock())
        holder_module.time.now += 3600
        assert holder.sync() == "0001-abc1234" and loads == []
        registry.fs.pipe_file(path, good)
        reply = client.post("/admin/reload", headers=auth).json()
    assert reply == {"model_version": broken, "refused": None} and loads == [broken]


def test_serve_help_prints_the_settings_and_starts_nothing(monkeypatch, capsys) -> None:
    def started(*args, **kwargs):
        raise AssertionError("the server started")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(uvicorn.Server, "run", started)
    with pytest.raises(SystemExit) as stop:
        cli.run("serve", ["--help"])
    assert stop.value.code == 0 and "SERVE_MAX_IN_FLIGHT" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        cli.run("serve", ["--port", "9000"])
    assert stop.value.code == 2
    assert "unrecognized arguments: --port 9000" in capsys.readouterr().err


def test_exposed_server_needs_a_real_token() -> None:
    with pytest.raises(SystemExit, match="SERVE_ADMIN_TOKEN"):
        Settings(host="0.0.0.0", admin_token="changeme").check_exposure()
    Settings(host="127.0.0.1").check_exposure()
    Settings(host="0.0.0.0", admin_token=TOKEN).check_exposure()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"n": True, "s": "a"}, "r.n: expected a number, got bool"),
        ({"n": float("inf"), "s": "a"}, "r.n: expected a finite number"),
        ({"n": None, "s": "a"}, "r.n: null is not allowed"),
        ({"n": 1, "s": 2.5}, "r.s: expected a string, got float"),
    ],
)
def test_schema_checks_each_value_exactly(row: dict, message: str) -> None:
    schema = FeatureSchema(
        [{"name": "n", "type": "number", "nullable": False}, {"name": "s", "type": "string"}]
    )
    assert schema.check_row({"n": 1.5, "s": None}, "r") == (1.5, None)
    with pytest.raises(InputError, match=message):
        schema.check_row(row, "r")


def test_a_current_that_names_no_version_is_refused_at_start(registry, mixed_frame) -> None:
    """CURRENT pointing outside the registry starts a server that loads nothing (503)."""
    publish_tiny(registry, mixed_frame)
    registry.fs.pipe_file(f"{registry.base}/CURRENT", b"../../../outside\n")
    settings = Settings(
        MODEL_REGISTRY=str(registry.location.rsplit("/", 1)[0]),
        model_name="tiny",
        admin_token=TOKEN,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/ready").status_code == 503
        auth = {"Authorization": f"Bearer {TOKEN}"}
        refused = client.post("/admin/reload", headers=auth).json()["refused"]
        assert refused["version"] is None and "CURRENT" in refused["reason"]
