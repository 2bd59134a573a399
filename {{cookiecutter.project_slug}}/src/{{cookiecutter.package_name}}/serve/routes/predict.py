"""The model: what it takes and knows (GET /model), and its predictions (POST /predict).

POST /predict is a plain route (routes/plain.py): FastAPI neither solves dependencies nor
validates or serialises on this hot path (the checks are the feature schema's, in bulk);
the pydantic models only describe the request and response in the OpenAPI schema.
"""

import secrets
import time
from functools import partial

from fastapi import APIRouter, Request

from .. import metrics
from ..dependencies import ServedDep, SettingsDep, served_or_503
from ..holder import Served
from ..inputs import InputError
from ..responses import JSONBody, read_json
from ..schemas import PredictRequest, PredictResponse
from ..traffic import SHADOW, agreement
from .plain import PlainRoute

router = APIRouter(tags=["model"])
hot_router = APIRouter(tags=["model"], route_class=PlainRoute)
PUBLIC_MANIFEST = ("version", "features", "metrics", "classes", "created")


@router.get("/model", responses={503: {"description": "no model is loaded yet"}})
async def model(served: ServedDep, settings: SettingsDep) -> JSONBody:
    """The served version: its name, features, metrics and classes, and the runtime that
    answers (onnx: its ONNX graph; skops: scikit-learn). GET /admin/model gives the whole
    manifest."""
    manifest = served.loaded.manifest
    public = {key: manifest.get(key) for key in PUBLIC_MANIFEST}
    return JSONBody({**public, "name": settings.model_name, "runtime": served.loaded.runtime})


@hot_router.post(
    "/predict",
    response_model=PredictResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
        }
    },
    responses={
        413: {"description": "the body is larger than SERVE_MAX_BODY_MB"},
        415: {"description": "the body is not sent as application/json"},
        422: {"description": "the request names the field it got wrong"},
        503: {"description": "no model is loaded yet"},
    },
)
async def predict(request: Request) -> JSONBody:
    """Predictions for the records, from the version that checked them (X-Model-Version):
    production's, or a canary's for its share of clients (by X-Client-Id)."""
    state = request.app.state
    settings, batcher, prediction_log = state.settings, state.batcher, state.prediction_log
    traffic = state.traffic
    client = request.headers.get("x-client-id") or secrets.token_hex(8)
    served, role = traffic.answering(client)
    served = served or served_or_503(traffic.primary)
    body = await read_json(request, settings.max_body_mb)
    if not isinstance(body, dict) or body.keys() != {"records"}:
        raise InputError('the body must be {"records": [{column: value}, ...]}')
    rows = served.schema.check_records(body["records"], settings.max_request_rows)
    started = time.perf_counter()
    result = await batcher.predict(served, rows)
    seconds = time.perf_counter() - started
    result["prediction_ids"] = state.prediction_ids.new(len(result["predictions"]))
    if prediction_log:
        prediction_log.record(served.version, body["records"], result, role)
    if settings.metrics:
        metrics.predicted(served.version, role, len(rows), seconds)
    if shadow := traffic.wants_shadow(served):
        compare = partial(shadow_done, state, served, shadow, result)
        traffic.after_answer(shadow, body["records"], settings.max_request_rows, compare)
    result["model_version"] = served.version
    if served.loaded.manifest["classes"]:
        result["classes"] = served.loaded.manifest["classes"]
    return JSONBody(result, headers={"X-Model-Version": served.version})


def shadow_done(
    state, served: Served, shadow: Served, answer: dict, result: dict, seconds: float
) -> None:
    """Log the shadow's predictions under the answer's ids, and count how far they agree."""
    result["prediction_ids"] = answer["prediction_ids"]
    if state.prediction_log:
        state.prediction_log.record(shadow.version, None, result, SHADOW)
    if state.settings.metrics:
        rows = len(result["predictions"])
        metrics.predicted(shadow.version, SHADOW, rows, seconds)
        classes = served.loaded.manifest["classes"]
        agreeing, differences = agreement(answer["predictions"], result["predictions"], classes)
        metrics.compared(served.version, shadow.version, rows, agreeing, differences)
