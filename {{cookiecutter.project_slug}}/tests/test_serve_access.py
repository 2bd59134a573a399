"""What the server shows and to whom, and what it takes from whom: the public model view,
the admin view, the docs setting, admin tokens, JSON-only predictions, slow request bodies.
(Slow heads and idle keep-alive connections are timed on a real server process by the
template's own tests.)"""

import asyncio

import orjson
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import AUTH, ROW, TOKEN, publish_tiny

pytestmark = pytest.mark.machinery

DATATYPES = {"size": "FP64", "count": "INT64", "colour": "BYTES"}
V2 = {
    "inputs": [
        {"name": k, "shape": [1], "datatype": DATATYPES[k], "data": [v]} for k, v in ROW.items()
    ]
}


def settings_for(registry: Registry, **overrides) -> Settings:
    return Settings(
        MODEL_REGISTRY=str(registry.location.rsplit("/", 1)[0]),
        model_name="tiny",
        admin_token=TOKEN,
        **overrides,
    )


@pytest.fixture
def client(registry: Registry, mixed_frame):
    publish_tiny(registry, mixed_frame)
    with TestClient(create_app(settings_for(registry))) as client:
        yield client


def test_public_model_view_hides_the_manifest(client: TestClient) -> None:
    public = client.get("/model").json()
    shown = {"name", "version", "features", "metrics", "classes", "created", "runtime"}
    assert set(public) == shown
    assert public["name"] == "tiny" and public["version"] == "0001-abc1234"
    for hidden in ("smoke", "params", "sha256", "refused", "prediction_log"):
        assert hidden not in public


def test_admin_model_view_has_everything_behind_the_token(client: TestClient) -> None:
    assert client.get("/admin/model").status_code == 401
    assert client.get("/admin/model", headers={"Authorization": "Bearer wrong"}).status_code == 403
    full = client.get("/admin/model", headers=AUTH).json()
    assert full["version"] == "0001-abc1234" and full["smoke"]["rows"]
    assert {"refused", "prediction_log", "sha256", "runtime"} <= set(full)


@pytest.mark.parametrize(
    ("host", "docs", "served"),
    [
        ("127.0.0.1", None, True),
        ("0.0.0.0", None, False),
        ("0.0.0.0", True, True),
        ("::1", False, False),
    ],
)
def test_docs_follow_the_setting(registry, host, docs, served) -> None:
    settings = settings_for(registry, host=host, docs=docs)
    with TestClient(create_app(settings)) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (client.get(path).status_code == 200) is served, path


def test_docs_setting_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SERVE_DOCS", "false")
    assert Settings(model_name="tiny").docs_on is False
    monkeypatch.setenv("SERVE_DOCS", "true")
    assert Settings(model_name="tiny", host="0.0.0.0").docs_on is True


@pytest.mark.parametrize("token", ["Bearer é", "Bearer ünïcödé-token-that-is-long", "Bearer \x80"])
def test_a_non_ascii_token_is_refused_not_a_server_error(client: TestClient, token: str) -> None:
    response = client.post("/admin/reload", headers={"Authorization": token.encode("utf-8")})
    assert response.status_code == 403


@pytest.mark.parametrize("weak", ["1", "password", "changeme123", "x" * 23, " " * 30])
def test_weak_tokens_are_refused_beyond_loopback(weak: str) -> None:
    with pytest.raises(SystemExit, match=r"^ERROR: SERVE_ADMIN_TOKEN .* 24 characters"):
        Settings(model_name="tiny", host="0.0.0.0", admin_token=weak).check_exposure()
    Settings(model_name="tiny", host="127.0.0.1", admin_token=weak).check_exposure()
    Settings(model_name="tiny", host="0.0.0.0", admin_token="y" * 24).check_exposure()


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"],
)
def test_predictions_take_json_only(client: TestClient, content_type: str | None) -> None:
    """/predict takes application/json alone; V2 infer also a body with no Content-Type, as
    tritonclient sends it, and refuses the types a form can send."""
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"records": [{"size": 10.5, "count": 2, "colour": "red"}]}'
    response = client.post("/predict", content=body, headers=headers)
    assert response.status_code == 415 and "application/json" in response.json()["detail"]
    response = client.post("/v2/models/tiny/infer", content=orjson.dumps(V2), headers=headers)
    if content_type is None:
        assert response.status_code == 200 and response.json()["model_version"] == "0001-abc1234"
    else:
        assert response.status_code == 415 and "application/json" in response.json()["error"]


def test_v2_binary_tensors_are_refused_saying_how_to_send_json(client: TestClient) -> None:
    headers = {"Inference-Header-Content-Length": "120"}
    response = client.post("/v2/models/tiny/infer", content=orjson.dumps(V2), headers=headers)
    assert response.status_code == 400 and "binary_data=False" in response.json()["error"]


def test_json_with_a_charset_is_taken(client: TestClient) -> None:
    body = b'{"records": [{"size": 10.5, "count": 2, "colour": "red"}]}'
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert client.post("/predict", content=body, headers=headers).status_code == 200


def test_a_half_sent_body_is_cut_off_with_408(registry, mixed_frame) -> None:
    """A client sends half a body and stalls: answered 408 after SERVE_READ_TIMEOUT, the
    connection closed."""
    publish_tiny(registry, mixed_frame)
    app = create_app(settings_for(registry, read_timeout=0.2))
    sent: list[dict] = []
    parts = [{"type": "http.request", "body": b'{"records": [{"si', "more_body": True}]

    async def receive() -> dict:
        if parts:
            return parts.pop()
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"999")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def call() -> None:
        async with app.router.lifespan_context(app):  # loads the model
            await asyncio.wait_for(app(scope, receive, send), timeout=5)

    asyncio.run(call())
    start = sent[0]
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
