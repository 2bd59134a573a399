"""What a client cannot do to the server: values the model cannot take, bodies too large."""

import asyncio

import httpx
import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from {{ cookiecutter.package_name }}.deploy import bundle
from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.serve import responses, v2
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.batching import MicroBatcher
from {{ cookiecutter.package_name }}.serve.inputs import FeatureSchema, InputError
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import ROW, publish_tiny

pytestmark = pytest.mark.machinery

V2_URL = "/v2/models/tiny/infer"


def v2_request(size: float = 10.5, **extra) -> dict:
    inputs = [
        {"name": "size", "shape": [1], "datatype": "FP64", "data": [size]},
        {"name": "count", "shape": [1], "datatype": "INT64", "data": [2]},
        {"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]},
    ]
    return {"inputs": inputs, **extra}


@pytest.fixture
def app_for(registry: Registry, mixed_frame: pd.DataFrame):
    publish_tiny(registry, mixed_frame)

    def make(**settings):
        location = registry.location.rsplit("/", 1)[0]
        return create_app(Settings(MODEL_REGISTRY=location, model_name="tiny", **settings))

    return make


@pytest.mark.parametrize("value", [1e40, -1e39, 10**40, 3.5e38])
def test_numbers_beyond_float32_are_refused_naming_the_column(value) -> None:
    schema = FeatureSchema([{"name": "n", "type": "number"}])
    assert schema.check_row({"n": 3.4e38}, "r") == (3.4e38,)
    with pytest.raises(InputError, match=r"r\.n: expected a finite number within"):
        schema.check_row({"n": value}, "r")


def test_a_huge_value_gets_4xx_on_both_protocols(app_for) -> None:
    with TestClient(app_for(), raise_server_exceptions=False) as client:
        response = client.post("/predict", json={"records": [ROW, {**ROW, "size": 1e40}]})
        assert response.status_code == 422 and "records[1].size" in response.json()["detail"]
        response = client.post(V2_URL, json=v2_request(size=1e40))
        assert response.status_code == 400 and "size" in response.json()["error"]


def served_model(app) -> object:
    with TestClient(app):
        return app.state.holder.served


# The poisoned row overflows scikit-learn's cast to float32: the failure this test wants.
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_a_failing_batch_fails_only_the_requests_that_fail_alone(app_for, monkeypatch) -> None:
    """Rows the schema let through but the model refuses (1e40 here, checks bypassed) share a
    batch with valid ones: the valid requests are answered, the bad one gets InputError (a
    4xx), and a request whose predict fails for another reason gets that error alone."""
    # scikit-learn refuses 1e40 (ONNX Runtime would take it as infinity; the schema refuses
    # it before either, in a request).
    monkeypatch.setenv("SERVE_RUNTIME", "skops")
    served = served_model(app_for())
    calls: list[int] = []
    real = bundle.Loaded.outputs

    def outputs(loaded, frame):
        calls.append(len(frame))
        if (frame["count"] == 666).any():
            raise RuntimeError("a fault that is not the input's")
        return real(loaded, frame)

    monkeypatch.setattr(bundle.Loaded, "outputs", outputs)
    unchecked = served.schema.columns
    good = unchecked([(10.5, 2, "red")])
    poisoned = unchecked([(1e40, 2, "red")])
    faulty = unchecked([(10.5, 666, "red")])
    requests = [good] * 5 + [poisoned] + [good] * 5 + [faulty] + [good] * 4

    async def run() -> list:
        batcher = MicroBatcher(wait=0.2, max_rows=1000)
        batcher.start()
        try:
            jobs = [batcher.predict(served, rows) for rows in requests]
            return await asyncio.gather(*jobs, return_exceptions=True)
        finally:
            await batcher.stop()

    results = asyncio.run(run())
    assert calls[0] == len(requests)  # all of them went into one predict call first
    assert isinstance(results[5], InputError) and "could not take" in str(results[5])
    assert isinstance(results[11], RuntimeError)
    answered = [r for i, r in enumerate(results) if i not in (5, 11)]
    assert all(isinstance(r, dict) and len(r["predictions"]) == 1 for r in answered)
    assert len(calls) < 2 * len(requests)  # halving, not one call per request


@pytest.mark.parametrize("path", ["/predict", V2_URL])
def test_a_body_over_the_limit_gets_413(app_for, path) -> None:
    with TestClient(app_for(max_body_mb=0.01)) as client:  # 10,485 bytes
        small = {"records": [ROW]} if path == "/predict" else v2_request()
        assert client.post(path, json=small).status_code == 200
        big = orjson.dumps({**small, "padding": "x" * 20_000})
        headers = {"Content-Type": "application/json"}
        response = client.post(path, content=big, headers=headers)
        assert response.status_code == 413 and "SERVE_MAX_BODY_MB" in response.text
        # Chunked, with no Content-Length: counted as it arrives.
        chunks = (big[i : i + 1000] for i in range(0, len(big), 1000))
        assert client.post(path, content=chunks, headers=headers).status_code == 413


def request_sending(chunks: list[bytes], length: bool) -> tuple[Request, list[int]]:
    """A request whose body arrives in these chunks; the list counts the chunks read."""
    read = [0]
    size = sum(map(len, chunks))
    headers = [(b"content-length", str(size).encode())] if length else []
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers}

    async def receive() -> dict:
        read[0] += 1
        last = read[0] >= len(chunks)
        return {"type": "http.request", "body": chunks[read[0] - 1], "more_body": not last}

    return Request(scope, receive), read


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
def test_a_large_body_is_refused_before_the_rest_is_read(length: bool) -> None:
    chunks = [b"[" + b"1," * 32_000] + [b"1," * 32_768] * 1000  # about 64 MB
    request, read = request_sending(chunks, length)
    with pytest.raises(responses.BodyTooLarge):
        asyncio.run(responses.read_json(request, 1))
    assert read[0] == (0 if length else 17)  # 1 MB is 16 chunks and a bit


def test_a_large_body_is_parsed_off_the_event_loop(monkeypatch) -> None:
    threaded: list = []
    real = asyncio.to_thread

    async def to_thread(function, *args):
        threaded.append(function)
        return await real(function, *args)

    monkeypatch.setattr(responses.asyncio, "to_thread", to_thread)
    body = orjson.dumps({"padding": "x" * 2_000_000})
    request, _ = request_sending([body], True)
    assert asyncio.run(responses.read_json(request, 10)) == {"padding": "x" * 2_000_000}
    small, _ = request_sending([b"{}"], True)
    assert asyncio.run(responses.read_json(small, 10)) == {}
    assert threaded == [orjson.loads]  # the small body is parsed in place


@pytest.mark.parametrize("outputs", [[{"name": ["predict"]}], [{"name": {"a": 1}}], "predict"])
def test_v2_outputs_of_the_wrong_shape_get_400(app_for, outputs) -> None:
    with TestClient(app_for(), raise_server_exceptions=False) as client:
        response = client.post(V2_URL, json=v2_request(outputs=outputs))
        assert response.status_code == 400 and "outputs" in response.json()["error"]
        response = client.post(V2_URL, json=v2_request(outputs=[{"name": "predict"}]))
        assert [o["name"] for o in response.json()["outputs"]] == ["predict"]


@pytest.mark.parametrize(
    ("shape", "size"), [([16], 1), ([1], 16), ([2, 8], 16)], ids=["shape", "data", "2-D"]
)
def test_v2_tensors_beyond_the_row_limit_are_refused_before_their_values_are_read(
    app_for, monkeypatch, shape, size
) -> None:
    """A large V2 body costs the event loop its parse, not a walk over its values too."""
    flattened: list = []
    real = v2.flatten
    monkeypatch.setattr(v2, "flatten", lambda data: flattened.append(data) or real(data))
    tensor = {"name": "size", "shape": shape, "datatype": "FP64", "data": [1.0] * size}
    request = {"inputs": [tensor] if len(shape) == 2 else [tensor, *v2_request()["inputs"][1:]]}
    with TestClient(app_for(max_request_rows=5)) as client:
        response = client.post(V2_URL, json=request)
    assert response.status_code == 400 and "size" in response.json()["error"]
    assert flattened == []


def test_beyond_max_in_flight_requests_get_503_but_health_checks_answer(app_for) -> None:
    """With SERVE_MAX_IN_FLIGHT requests running, another gets 503 (both protocols), while
    the health checks and /metrics answer: a liveness probe must not restart a busy pod."""
    app = app_for(SERVE_MAX_IN_FLIGHT=1)
    unbounded = ["/health/live", "/health/ready", "/v2/health/live", "/v2/health/ready", "/metrics"]

    async def run() -> tuple[dict, dict, int, int]:
        async with app.router.lifespan_context(app):  # loads the model
            entered, release = asyncio.Event(), asyncio.Event()
            predict = app.state.batcher.predict

            async def held(served, rows):
                entered.set()
                await release.wait()
                return await predict(served, rows)

            app.state.batcher.predict = held
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                first = asyncio.create_task(client.post("/predict", json={"records": [ROW]}))
                await entered.wait()
                busy = {
                    path: await client.post(path, json=body)
                    for path, body in (("/predict", {"records": [ROW]}), (V2_URL, v2_request()))
                }
                answered = {path: (await client.get(path)).status_code for path in unbounded}
                release.set()
                answer = await first
                after = await client.post("/predict", json={"records": [ROW]})
                return busy, answered, answer.status_code, after.status_code

    busy, answered, first, after = asyncio.run(asyncio.wait_for(run(), 30))
    assert busy["/predict"].status_code == busy[V2_URL].status_code == 503
    assert "SERVE_MAX_IN_FLIGHT" in busy["/predict"].json()["detail"]
    assert "SERVE_MAX_IN_FLIGHT" in busy[V2_URL].json()["error"]
    assert busy["/predict"].headers["Retry-After"] == "1"
    assert answered == dict.fromkeys(unbounded, 200)
    assert first == after == 200  # the first was answered, and its place freed


def tensor(name: str, datatype: str, value: object) -> dict:
    return {"name": name, "shape": [1], "datatype": datatype, "data": [value]}


@pytest.mark.parametrize(
    ("changed", "error"),
    [
        (tensor("size", "BOOL", 10.5), "input 'size': datatype BOOL does not fit number"),
        (tensor("size", "BYTES", 10.5), "input 'size': datatype BYTES does not fit number"),
        (tensor("colour", "FP64", "red"), "input 'colour': datatype FP64 does not fit text"),
        (tensor("size", "FLOAT", 10.5), "input 'size': datatype 'FLOAT' is not one of the"),
        (tensor("count", "INT64", 2.5), "input 'count': datatype INT64 takes integers, got 2.5"),
        (tensor("count", "UINT8", 300), "input 'count': a value is outside UINT8's range 0 to"),
        (tensor("count", "INT8", -129), "input 'count': a value is outside INT8's range -128"),
    ],
)
def test_v2_datatypes_must_fit_the_columns_and_the_data(app_for, changed, error) -> None:
    """Numbers take the protocol's numeric types (the metadata says FP64), text and dates
    BYTES; integer types take integers they can hold. A mismatch is refused naming the input."""
    inputs = [changed if t["name"] == changed["name"] else t for t in v2_request()["inputs"]]
    with TestClient(app_for()) as client:
        response = client.post(V2_URL, json={"inputs": inputs})
        assert response.status_code == 400 and response.json()["error"].startswith(error)
        for size in (tensor("size", kind, 10) for kind in ("FP16", "FP32", "INT32", "UINT16")):
            inputs = [size, *v2_request()["inputs"][1:]]
            assert client.post(V2_URL, json={"inputs": inputs}).status_code == 200
        metadata = client.get("/v2/models/tiny").json()["inputs"]
        advertised = [tensor(t["name"], t["datatype"], ROW[t["name"]]) for t in metadata]
        assert client.post(V2_URL, json={"inputs": advertised}).status_code == 200


def test_v2_a_column_sent_twice_is_refused(app_for) -> None:
    """A repeated tensor name is refused (it took the last one, silently)."""
    inputs = [*v2_request()["inputs"], tensor("size", "FP64", 99.0)]
    with TestClient(app_for()) as client:
        response = client.post(V2_URL, json={"inputs": inputs})
    assert response.status_code == 400
    assert response.json()["error"] == "input 'size' is given twice - send each column once"
