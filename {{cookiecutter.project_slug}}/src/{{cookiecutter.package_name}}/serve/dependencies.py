"""What routes take from the running server, as Annotated aliases of FastAPI dependencies.

The lifespan (serve/app.py) creates the model holder, micro-batcher and prediction log on
app.state; these functions read them from there, so a test replaces one for a route through
app.dependency_overrides. They are async, so FastAPI calls them on the event loop instead
of sending each one to a thread. The two prediction routes, the only users of the batcher,
are plain routes, for speed (routes/plain.py): they read app.state themselves, so replacing
app.state.<name> once the app has started changes what every route uses.
"""

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from .holder import ModelHolder, Served
from .predictionlog import PredictionLog
from .settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


async def get_prediction_log(request: Request) -> PredictionLog | None:
    return request.app.state.prediction_log


SettingsDep = Annotated[Settings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
PredictionLogDep = Annotated[PredictionLog | None, Depends(get_prediction_log)]


def served_or_503(holder: ModelHolder) -> Served:
    """The version serving now, or 503 before the first load."""
    served = holder.served
    if served is None:
        raise HTTPException(503, detail="no model is loaded yet - run `make deploy`")
    return served


async def get_served(holder: HolderDep) -> Served:
    return served_or_503(holder)


ServedDep = Annotated[Served, Depends(get_served)]


def bearer_token(authorization: str | None, missing: str) -> bytes:
    """The token of an `Authorization: Bearer` header; 401 saying `missing` without one."""
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, detail=missing, headers={"WWW-Authenticate": "Bearer"})
    return authorization.removeprefix("Bearer ").encode("utf-8", "surrogateescape")


def token_is(given: bytes, token: str) -> bool:
    """Whether the given token is this one, in constant time."""
    return hmac.compare_digest(given, token.encode("utf-8", "surrogateescape"))


async def require_admin(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """401 without a bearer token; 403 for a wrong one, or when SERVE_ADMIN_TOKEN is unset."""
    token = settings.admin_token
    given = bearer_token(authorization, "admin calls need an Authorization: Bearer token")
    if not token or not token_is(given, token):
        raise HTTPException(
            403, detail="the token is wrong, or admin calls are disabled (no SERVE_ADMIN_TOKEN)"
        )
