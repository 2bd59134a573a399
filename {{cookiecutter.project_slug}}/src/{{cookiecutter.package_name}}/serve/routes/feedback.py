"""Outcomes for earlier predictions (POST /feedback), for `make performance`."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request

from ...monitoring.outcomes import OutcomeError, checked
from ..dependencies import SettingsDep, bearer_token, served_or_503, token_is
from ..inputs import InputError
from ..responses import read_json
from ..schemas import FeedbackRequest, FeedbackResponse
from ..settings import is_loopback

router = APIRouter(tags=["model"])


async def allow_feedback(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Open on loopback while no token is set; otherwise the bearer token must be
    SERVE_FEEDBACK_TOKEN (for the system that sends outcomes) or the admin token."""
    tokens = [token for token in (settings.feedback_token, settings.admin_token) if token]
    if not tokens and is_loopback(settings.host):
        return
    needed = "POST /feedback needs an Authorization: Bearer token (SERVE_FEEDBACK_TOKEN)"
    given = bearer_token(authorization, needed)
    if not any(token_is(given, token) for token in tokens):
        raise HTTPException(403, detail="the token is wrong")


@router.post(
    "/feedback",
    dependencies=[Depends(allow_feedback)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": FeedbackRequest.model_json_schema()}},
        }
    },
    responses={
        409: {"description": "the server keeps no prediction log (SERVE_PREDICTION_LOG)"},
        413: {"description": "the body is larger than SERVE_MAX_BODY_MB"},
        422: {"description": "the item that is wrong, and why"},
    },
)
async def feedback(request: Request) -> FeedbackResponse:
    """Store the true label of predictions this server made (their prediction_ids), once
    per id: sending one again stores nothing (counted as already_stored)."""
    state = request.app.state
    settings, store = state.settings, state.feedback
    if store is None:
        raise HTTPException(
            409, detail="feedback is stored beside the prediction log: set SERVE_PREDICTION_LOG"
        )
    body = await read_json(request, settings.max_body_mb)
    if not isinstance(body, dict) or body.keys() != {"outcomes"}:
        raise InputError('the body must be {"outcomes": [{"prediction_id": ..., "label": ...}]}')
    classes = served_or_503(state.holder).loaded.manifest["classes"]
    try:
        pairs = checked(body["outcomes"], state.prediction_ids, classes, settings.max_request_rows)
    except OutcomeError as error:
        raise InputError(str(error)) from None
    stored, already = await asyncio.to_thread(store.store, pairs)
    return FeedbackResponse(stored=stored, already_stored=already)
