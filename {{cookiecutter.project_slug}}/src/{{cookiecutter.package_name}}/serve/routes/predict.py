"""The model: what it takes and knows (GET /model), and its predictions (POST /predict).

POST /predict is a plain route (routes/plain.py): FastAPI neither solves dependencies nor
validates or serialises on this hot path (the checks are the feature schema's, in bulk);
the pydantic models only describe the request and response in the OpenAPI schema.
"""

from fastapi import APIRouter, Request

from ..dependencies import ServedDep, SettingsDep, served_or_503
from ..inputs import InputError
from ..responses import JSONBody, read_json
from ..schemas import PredictRequest, PredictResponse
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
    """Predictions for the records, from the version that checked them (X-Model-Version)."""
    state = request.app.state
    settings, batcher, prediction_log = state.settings, state.batcher, state.prediction_log
    served = served_or_503(state.holder)
    body = await read_json(request, settings.max_body_mb)
    if not isinstance(body, dict) or body.keys() != {"records"}:
        raise InputError('the body must be {"records": [{column: value}, ...]}')
    rows = served.schema.check_records(body["records"], settings.max_request_rows)
    result = await batcher.predict(served, rows)
    result["prediction_ids"] = state.prediction_ids.new(len(result["predictions"]))
    if prediction_log:
        prediction_log.record(served.version, body["records"], result)
    result["model_version"] = served.version
    if served.loaded.manifest["classes"]:
        result["classes"] = served.loaded.manifest["classes"]
    return JSONBody(result, headers={"X-Model-Version": served.version})
