"""Prometheus metrics: what the server exports on GET /metrics, and where it records them.

Recording costs a few microseconds per request: a lock and an add per value. With several
worker processes (SERVE_WORKERS > 1) prometheus-client's multiprocess mode keeps each
process's values in files under PROMETHEUS_MULTIPROC_DIR, which the server sets (serve/main.py);
a scrape reaches one worker, which reads them all: counters and histograms are summed over
the workers, and the served version is shown per worker (a `pid` label).
"""

import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as multiprocess_mode
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .batching import MicroBatcher
from .holder import ModelHolder, Served

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
ROW_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
UNMATCHED = "unmatched"  # the route label of requests to paths the server does not have

REQUESTS = Counter(
    "serve_http_requests", "HTTP requests by route template and status", ["route", "status"]
)
LATENCY = Histogram(
    "serve_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by route template",
    ["route"],
    buckets=SECONDS_BUCKETS,
)
REQUEST_ROWS = Histogram(
    "serve_request_rows", "Rows per prediction request (both protocols)", buckets=ROW_BUCKETS
)
BATCH_ROWS = Histogram(
    "serve_batch_rows", "Rows per micro-batch: one predict call", buckets=ROW_BUCKETS
)
# liveall: one series per live worker process, so a scrape shows which version each serves.
MODEL_VERSION = Gauge(
    "serve_model_version",
    "1 for the model version this process serves and the runtime that answers (onnx or "
    "skops; with several workers, 0 for the versions a worker served before)",
    ["version", "runtime"],
    multiprocess_mode="liveall",
)
LOADS = Counter("serve_model_loads", "Model versions loaded and swapped in")
# Per version and role (primary, canary, shadow): what each version predicted, and how long
# its model took from checked rows to predictions (the micro-batch's wait included).
VERSION_ROWS = Counter(
    "serve_version_predicted_rows", "Rows predicted, by version and role", ["version", "role"]
)
VERSION_SECONDS = Histogram(
    "serve_version_predict_seconds",
    "Time from checked rows to predictions, by version and role",
    ["version", "role"],
    buckets=SECONDS_BUCKETS,
)
SHADOW_ROWS = Counter(
    "serve_shadow_compared_rows",
    "Rows both the answering and the shadow version predicted",
    ["version", "shadow"],
)
SHADOW_AGREEING = Counter(
    "serve_shadow_agreeing_rows",
    "Compared rows on which the shadow agrees: the same class, or within 1e-6 relative",
    ["version", "shadow"],
)
SHADOW_DIFFERENCE = Histogram(
    "serve_shadow_relative_difference",
    "A regressor's relative difference |a - b| / max(|a|, |b|) per compared row",
    ["version", "shadow"],
    buckets=(1e-6, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0),
)
REFUSALS = Counter(
    "serve_model_refusals",
    "Versions refused (a failed load check), or pointers naming no valid version",
)
LOG_DROPPED = Counter(
    "serve_prediction_log_dropped",
    "Requests the prediction log did not write: queue full, too large, or logging stopped",
    ["reason"],
)


def render() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    folder = os.environ.get(MULTIPROCESS_DIR)
    if folder:
        forget_dead_workers(Path(folder))
        registry = CollectorRegistry()
        multiprocess_mode.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def forget_dead_workers(folder: Path) -> None:
    """Drop the per-process series of workers that died without stopping (killed, out of
    memory), which uvicorn replaces: else a dead worker would show its last version forever.
    Their counts stay, as the totals need them."""
    for path in folder.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not alive(int(pid)):
            multiprocess_mode.mark_process_dead(int(pid), str(folder))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def process_stopped() -> None:
    """Drop this process's per-process series (the served version) from later scrapes."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess_mode.mark_process_dead(os.getpid())


class RecordRequests:
    """Plain ASGI middleware (cheap on the hot path): counts each request by route template
    and status and times it. Requests answered before routing (a 415, say) are matched
    against `routes` (with their full paths) here, so they count under their route too."""

    def __init__(self, app: ASGIApp, routes: list) -> None:
        self.app, self.routes = app, routes
        self._children: dict[tuple[str, int], tuple] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500  # unless the app answers: an error it raised is a 500 to the client

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = route.path if route is not None else self._template(scope)
            children = self._children.get((path, status))
            if children is None:
                children = REQUESTS.labels(path, str(status)), LATENCY.labels(path)
                self._children[(path, status)] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - start)

    def _template(self, scope: Scope) -> str:
        for route in self.routes:
            if route.matches(scope)[0] != Match.NONE:
                return route.path
        return UNMATCHED


class MeasuredHolder(ModelHolder):
    """The model holder, counting loads and refusals and exporting the served version."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._measure = threading.Lock()  # one sync at a time, so each change counts once

    def sync(self, retry: bool = False) -> str | None:
        return self._measured(partial(super().sync, retry))

    def rollback(self) -> str | None:
        return self._measured(super().rollback)

    def _measured(self, change: Callable[[], str | None]) -> str | None:
        """Run a change of the served version, counting what it loaded or refused."""
        with self._measure:
            before: Served | None = self.served
            refused = self.refused
            version = change()
            if self.served is not None and self.served is not before:
                LOADS.inc()
                if before is not None:
                    old = (before.version, before.loaded.runtime)
                    MODEL_VERSION.labels(*old).set(0)
                    if not os.environ.get(MULTIPROCESS_DIR):  # one process: drop the series
                        MODEL_VERSION.remove(*old)  # (files keep theirs till exit)
                MODEL_VERSION.labels(self.served.version, self.served.loaded.runtime).set(1)
            if self.refused is not None and self.refused != refused:
                REFUSALS.inc()
            return version


class MeasuredBatcher(MicroBatcher):
    """The micro-batcher, recording rows per request and per batch."""

    async def predict(self, served: Served, rows) -> dict:
        REQUEST_ROWS.observe(len(rows))
        return await super().predict(served, rows)

    async def _collect(self) -> list:
        jobs = await super()._collect()
        BATCH_ROWS.observe(sum(len(job.rows) for job in jobs))
        return jobs


def predicted(version: str, role: str, rows: int, seconds: float) -> None:
    VERSION_ROWS.labels(version, role).inc(rows)
    VERSION_SECONDS.labels(version, role).observe(seconds)


def compared(version: str, shadow: str, rows: int, agreeing: int, differences: list) -> None:
    SHADOW_ROWS.labels(version, shadow).inc(rows)
    SHADOW_AGREEING.labels(version, shadow).inc(agreeing)
    for difference in differences:
        SHADOW_DIFFERENCE.labels(version, shadow).observe(difference)
