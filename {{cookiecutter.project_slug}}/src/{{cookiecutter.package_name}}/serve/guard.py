"""A guard in front of every route: a bound on requests in flight, JSON-only prediction
bodies, and a time bound on bodies."""

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .responses import JSONBody

JSON = b"application/json"
# POST routes whose body must be JSON: a browser form from another site cannot send it
# without a CORS preflight, which this server does not answer.
JSON_ROUTES = ("/predict",)
JSON_ROUTE_SUFFIX = "/infer"  # the V2 infer routes, under /v2/models/: JSON or no type
# Answered whatever the load: a liveness probe answered 503 would restart a pod that is
# only busy, and a scrape would lose the numbers that show it.
UNBOUNDED = frozenset(
    ("/health/live", "/health/ready", "/v2/health/live", "/v2/health/ready", "/metrics")
)


class BodyTimeout(Exception):
    """The client did not send the request body in time."""


class RequestGuard:
    """Plain ASGI middleware (cheap on the hot path): at most `max_in_flight` requests at
    once (503 beyond, health checks and /metrics exempt); JSON only on the prediction
    routes (415 before reading the body), and a bound on the time the whole body may take
    to arrive (BodyTimeout, answered 408 and the connection closed), so half-sent requests
    do not hold the server.

    Connections are not bounded here: idle ones cost a file descriptor each until the read
    timeout closes them, and limits per client belong on the ingress."""

    def __init__(self, app: ASGIApp, read_timeout: float, max_in_flight: int) -> None:
        self.app, self.read_timeout, self.max_in_flight = app, read_timeout, max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNBOUNDED:
            return await self.app(scope, receive, send)
        if self.in_flight >= self.max_in_flight:
            return await self.busy(scope, receive, send)
        self.in_flight += 1
        try:
            await self.guarded(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (
            f"{self.max_in_flight} requests are in flight, the limit (SERVE_MAX_IN_FLIGHT) - "
            "retry shortly, or add workers or replicas"
        )
        key = "error" if scope["path"].startswith("/v2/") else "detail"
        headers = {"Retry-After": "1"}
        await JSONBody({key: detail}, status_code=503, headers=headers)(scope, receive, send)

    async def guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path in JSON_ROUTES:
            refused = media_type(scope) != JSON
        elif path.startswith("/v2/models/") and path.endswith(JSON_ROUTE_SUFFIX):
            # tritonclient sends its JSON without a Content-Type; V2 infer changes nothing
            # on the server, so a cross-site post of it gains nothing either.
            refused = media_type(scope) not in (JSON, None)
        else:
            refused = False
        if refused:
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
            except asyncio.TimeoutError:  # the builtin TimeoutError only from 3.11
                raise BodyTimeout from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


def media_type(scope: Scope) -> bytes | None:
    """The request's Content-Type without its parameters, lowercase; None without one."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.partition(b";")[0].strip().lower()
    return None
