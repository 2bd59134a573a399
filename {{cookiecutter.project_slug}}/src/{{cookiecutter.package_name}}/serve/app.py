"""The FastAPI application: middleware, error answers and the routers, and the lifespan
that creates what the routes use (serve/dependencies.py reads it from app.state)."""

import contextlib
import logging
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request

from ..deploy.registry import Registry
from ..monitoring.outcomes import PredictionIds, folder_key
from . import metrics, v2
from .batching import MicroBatcher
from .feedback import FeedbackStore
from .guard import BodyTimeout, RequestGuard
from .holder import ModelHolder
from .inputs import InputError
from .predictionlog import PredictionLog
from .responses import JSONBody
from .routes import admin, card, feedback, health, predict
from .routes import metrics as metrics_route
from .settings import Settings
from .traffic import Other, Traffic
from .v2 import V2Error

PACKAGE = __package__.rpartition(".")[0]
ROUTERS = (
    health.router,
    predict.router,
    card.router,
    feedback.router,
    admin.router,
    v2.router,
)
# The prediction routes go on the app itself: newer FastAPI dispatches to an included
# router's routes through extra layers, a cost measured on every prediction.
HOT_ROUTERS = (predict.hot_router, v2.hot_router)
# Threads hand over the GIL every 5 ms by default; 1 ms lets the event loop keep answering
# while a worker thread loads a new version (measured: lower p99 during hot swaps).
GIL_SWITCH_INTERVAL = 0.001


@asynccontextmanager
async def lifespan(app: FastAPI):
    """Load the model, follow the environment's pointer, batch and log predictions. On a
    stop, uvicorn runs what follows the yield only once the requests in flight are answered
    (or SERVE_DRAIN_TIMEOUT passed), so the batcher serves them to the end."""
    settings: Settings = app.state.settings
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    log_like_the_command_line()
    measured = settings.metrics  # SERVE_METRICS=false: nothing counted, no /metrics
    holder_class = metrics.MeasuredHolder if measured else ModelHolder
    registry = Registry(settings.registry, settings.model_name)
    holder = holder_class(registry, env=settings.deploy_env, runtime=settings.runtime)
    canary = shadow = None
    if setting := settings.canary_env_and_share:  # others than the served: plain holders
        canary = Other(ModelHolder(registry, env=setting[0], runtime=settings.runtime), setting[1])
    if settings.shadow:
        shadow_holder = ModelHolder(registry, env=settings.shadow, runtime=settings.runtime)
        shadow = Other(shadow_holder, settings.shadow_share)
    traffic = Traffic(holder, canary, shadow)
    batcher = (metrics.MeasuredBatcher if measured else MicroBatcher)(
        settings.batch_wait_ms / 1000, settings.batch_max_rows
    )
    prediction_log = feedback_store = None
    key = os.urandom(32)  # ids of predictions that no log keeps: no one can send outcomes
    if settings.prediction_log:
        folder = Path(settings.prediction_log)
        prediction_log = PredictionLog(folder, int(settings.prediction_log_max_mb * 1024 * 1024))
        with contextlib.suppress(OSError):  # the log's start says why; serving carries on
            folder.mkdir(parents=True, exist_ok=True)
            key, feedback_store = folder_key(folder), FeedbackStore(folder)
    app.state.holder, app.state.batcher, app.state.traffic = holder, batcher, traffic
    app.state.prediction_log, app.state.feedback = prediction_log, feedback_store
    app.state.prediction_ids = PredictionIds(key)
    holder.sync()
    holder.watch(settings.poll_interval)
    batcher.start()
    traffic.start(settings.poll_interval, settings.batch_wait_ms / 1000, settings.batch_max_rows)
    if prediction_log:
        prediction_log.start()
    try:
        yield
    finally:
        holder.stop()
        await batcher.stop()
        await traffic.stop()
        if prediction_log:
            prediction_log.stop()
        metrics.process_stopped()


def log_like_the_command_line() -> None:
    """A worker process that uvicorn spawned (SERVE_WORKERS > 1) did not start through the
    command line, which configures logging (cli.py): the same here, so that each worker logs
    the versions it loads and refuses."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger(PACKAGE).setLevel(logging.INFO)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The server for these settings (by default from SERVE_* variables: uvicorn's
    workers call it without arguments)."""
    settings = settings or Settings()
    docs = settings.docs_on  # SERVE_DOCS; by default only on loopback
    app = FastAPI(
        title=f"{settings.model_name} model server",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.add_middleware(
        RequestGuard, read_timeout=settings.read_timeout, max_in_flight=settings.max_in_flight
    )
    routers = (*ROUTERS, metrics_route.router) if settings.metrics else ROUTERS
    if settings.metrics:
        # Outermost, to count the guard's answers too (under the route they were meant for).
        routes = [route for router in (*HOT_ROUTERS, *routers) for route in router.routes]
        app.add_middleware(metrics.RecordRequests, routes=routes)
    # Starlette types a handler as taking any Exception, though it calls each with the
    # exception class it is registered for.
    app.add_exception_handler(InputError, input_error)  # type: ignore[arg-type]
    app.add_exception_handler(BodyTimeout, body_timeout)  # type: ignore[arg-type]
    app.add_exception_handler(V2Error, v2_error)  # type: ignore[arg-type]
    for router in HOT_ROUTERS:
        app.router.routes.extend(router.routes)  # each route has its full path already
    for router in routers:
        app.include_router(router)
    return app


async def input_error(request: Request, error: InputError) -> JSONBody:
    return JSONBody({"detail": str(error)}, status_code=422)


async def body_timeout(request: Request, error: BodyTimeout) -> JSONBody:
    seconds = request.app.state.settings.read_timeout
    detail = f"the request body did not arrive within {seconds:g} s"
    return JSONBody({"detail": detail}, status_code=408, headers={"Connection": "close"})


async def v2_error(request: Request, error: V2Error) -> JSONBody:
    return JSONBody({"error": str(error)}, status_code=error.status)
