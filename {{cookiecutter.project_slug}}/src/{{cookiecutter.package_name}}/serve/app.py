"""The FastAPI application: health, model info, predictions and admin calls."""

import asyncio
import hmac
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from starlette.routing import Route

from ..deploy.registry import Registry, RegistryError
from .batching import MicroBatcher
from .holder import ModelHolder, Served
from .inputs import InputError
from .predictionlog import PredictionLog
from .responses import JSONBody, read_json
from .schemas import Health, PredictRequest, PredictResponse
from .settings import Settings
from .v2 import V2Error, v2_router

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, watch: bool = True, log_opener=None) -> FastAPI:
    settings = settings or Settings()
    holder = ModelHolder(Registry(settings.registry, settings.model_name))
    batcher = MicroBatcher(settings.batch_wait_ms / 1000, settings.batch_max_rows)
    prediction_log = None
    if settings.prediction_log:
        max_bytes = int(settings.prediction_log_max_mb * 1024 * 1024)
        prediction_log = PredictionLog(Path(settings.prediction_log), max_bytes, opener=log_opener)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder.sync()
        if watch:
            holder.watch(settings.poll_interval)
        batcher.start()
        if prediction_log:
            prediction_log.start()
        yield
        holder.stop()
        await batcher.stop()
        if prediction_log:
            prediction_log.stop()

    app = FastAPI(title=f"{settings.model_name} model server", lifespan=lifespan)
    app.state.settings, app.state.holder, app.state.batcher = settings, holder, batcher
    app.state.prediction_log = prediction_log

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError) -> JSONBody:
        return JSONBody({"detail": str(error)}, status_code=422)

    @app.exception_handler(V2Error)
    async def v2_error(request: Request, error: V2Error) -> JSONBody:
        return JSONBody({"error": str(error)}, status_code=error.status)

    @app.get("/health/live", response_model=Health)
    async def live() -> JSONBody:
        return JSONBody({"status": "alive"})

    @app.get("/health/ready", response_model=Health, responses={503: {"model": Health}})
    async def ready() -> JSONBody:
        served = holder.served
        if served is None:
            return JSONBody({"status": "no model loaded"}, status_code=503)
        return JSONBody({"status": "ready", "model_version": served.version})

    @app.get("/model")
    async def model() -> JSONBody:
        """The served version's manifest, the last refused version, the prediction log."""
        served = require_model(holder)
        return JSONBody(
            {
                **served.loaded.manifest,
                "name": settings.model_name,
                "refused": holder.refused,
                "prediction_log": prediction_log.status() if prediction_log else None,
            }
        )

    @app.post(
        "/predict",
        response_model=PredictResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
            }
        },
        responses={422: {"description": "the request names the field it got wrong"}},
    )
    async def predict(request: Request) -> JSONBody:
        served = require_model(holder)
        body = await read_json(request, settings.max_body_mb)
        if not isinstance(body, dict) or body.keys() != {"records"}:
            raise InputError('the body must be {"records": [{column: value}, ...]}')
        rows = served.schema.check_records(body["records"], settings.max_request_rows)
        result = await batcher.predict(served, rows)
        if prediction_log:
            prediction_log.record(served.version, body["records"], result["predictions"])
        result["model_version"] = served.version
        if served.loaded.manifest["classes"]:
            result["classes"] = served.loaded.manifest["classes"]
        return JSONBody(result, headers={"X-Model-Version": served.version})

    # The hot path also as a plain Starlette route, matched before FastAPI's: it skips
    # FastAPI's per-request machinery, which cost a third of the throughput here. The
    # FastAPI route above stays for the OpenAPI docs.
    app.router.routes.insert(0, Route("/predict", predict, methods=["POST"]))

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = settings.admin_token
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(
                401,
                detail="admin calls need an Authorization: Bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not token or not hmac.compare_digest(authorization.removeprefix("Bearer "), token):
            raise HTTPException(
                403, detail="the token is wrong, or admin calls are disabled (no SERVE_ADMIN_TOKEN)"
            )

    @app.post("/admin/reload", dependencies=[Depends(admin)])
    async def reload() -> JSONBody:
        """Load the version CURRENT names now, instead of at the next poll."""
        # Loading takes a while: a worker thread keeps the event loop answering meanwhile.
        version = await asyncio.to_thread(holder.sync)
        return JSONBody({"model_version": version, "refused": holder.refused})

    @app.post("/admin/rollback", dependencies=[Depends(admin)])
    async def rollback() -> JSONBody:
        """Promote the previous version and serve it."""
        try:
            previous = await asyncio.to_thread(holder.registry.previous)
        except RegistryError as error:
            raise HTTPException(409, detail=str(error)) from None
        await asyncio.to_thread(holder.registry.promote, previous)
        version = await asyncio.to_thread(holder.sync)
        return JSONBody({"model_version": version, "refused": holder.refused})

    app.include_router(v2_router(holder, batcher, settings))
    return app


def require_model(holder: ModelHolder) -> Served:
    served = holder.served
    if served is None:
        raise HTTPException(503, detail="no model is loaded yet - run `make deploy`")
    return served
