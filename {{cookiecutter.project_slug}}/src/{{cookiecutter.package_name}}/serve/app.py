"""The FastAPI application: health, model info, predictions and admin calls."""

import asyncio
import hmac
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    docs = settings.docs_on  # SERVE_DOCS; by default only on loopback
    app = FastAPI(
        title=f"{settings.model_name} model server",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.add_middleware(RequestGuard, read_timeout=settings.read_timeout)
    app.state.settings, app.state.holder, app.state.batcher = settings, holder, batcher
    app.state.prediction_log = prediction_log

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError) -> JSONBody:
        return JSONBody({"detail": str(error)}, status_code=422)

    @app.exception_handler(BodyTimeout)
    async def body_timeout(request: Request, error: BodyTimeout) -> JSONBody:
        detail = f"the request body did not arrive within {settings.read_timeout:g} s"
        return JSONBody({"detail": detail}, status_code=408, headers={"Connection": "close"})

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
        """The served version: its name, features, metrics and classes (GET /admin/model
        gives the whole manifest)."""
        manifest = require_model(holder).loaded.manifest
        public = {key: manifest.get(key) for key in PUBLIC_MANIFEST}
        return JSONBody({**public, "name": settings.model_name})

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
        given = authorization.removeprefix("Bearer ").encode("utf-8", "surrogateescape")
        if not token or not hmac.compare_digest(given, token.encode("utf-8", "surrogateescape")):
            raise HTTPException(
                403, detail="the token is wrong, or admin calls are disabled (no SERVE_ADMIN_TOKEN)"
            )

    @app.get("/admin/model", dependencies=[Depends(admin)])
    async def admin_model() -> JSONBody:
        """The served version's whole manifest (smoke rows, params, data hashes), the last
        refused version and the prediction log's status."""
        served = holder.served
        return JSONBody(
            {
                **(served.loaded.manifest if served else {}),
                "name": settings.model_name,
                "refused": holder.refused,
                "prediction_log": prediction_log.status() if prediction_log else None,
            }
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


PUBLIC_MANIFEST = ("version", "features", "metrics", "classes", "created")
# POST routes whose body must be JSON: a browser form from another site cannot send it
# without a CORS preflight, which this server does not answer.
JSON_ROUTES = ("/predict",)
JSON_ROUTE_SUFFIX = "/infer"  # the V2 infer routes, under /v2/models/


class BodyTimeout(Exception):
    """The client did not send the request body in time."""


class RequestGuard:
    """Plain ASGI middleware (cheap on the hot path) for request bodies: JSON only on the
    prediction routes (415 before reading the body), and a bound on the time the whole
    body may take to arrive (BodyTimeout, answered 408 and the connection closed), so
    half-sent requests do not hold the server."""

    def __init__(self, app: ASGIApp, read_timeout: float) -> None:
        self.app, self.read_timeout = app, read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        path = scope["path"]
        json_route = path in JSON_ROUTES or (
            path.startswith("/v2/models/") and path.endswith(JSON_ROUTE_SUFFIX)
        )
        if json_route and not sends_json(scope):
            detail = "the body must be JSON, sent with Content-Type: application/json"
            key = "error" if path.startswith("/v2/") else "detail"
            return await JSONBody({key: detail}, status_code=415)(scope, receive, send)
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        done = False

        async def timed_receive() -> Message:
            nonlocal deadline, done
            if done:  # the body is in: waiting for a disconnect is not bounded
                return await receive()
            if deadline is None:
                deadline = loop.time() + self.read_timeout
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:  # TimeoutError from Python 3.11
                raise BodyTimeout from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


def sends_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.partition(b";")[0].strip().lower() == b"application/json"
    return False


def require_model(holder: ModelHolder) -> Served:
    served = holder.served
    if served is None:
        raise HTTPException(503, detail="no model is loaded yet - run `make deploy`")
    return served
