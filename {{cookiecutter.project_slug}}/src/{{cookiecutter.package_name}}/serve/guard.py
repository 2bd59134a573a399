"""A guard in front of every route: JSON-only prediction bodies, and a time bound on bodies."""

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .responses import JSONBody

JSON = b"application/json"
# POST routes whose body must be JSON: a browser form from another site cannot send it
# without a CORS preflight, which this server does not answer.
JSON_ROUTES = ("/predict",)
JSON_ROUTE_SUFFIX = "/infer"  # the V2 infer routes, under /v2/models/: JSON or no type


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
