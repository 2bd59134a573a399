"""Admin calls, behind the bearer token SERVE_ADMIN_TOKEN: the whole manifest, a reload
now, a rollback."""

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Request

from ...errors import PipelineError
from ..dependencies import HolderDep, PredictionLogDep, SettingsDep, require_admin
from ..responses import JSONBody

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/model")
async def admin_model(
    request: Request, holder: HolderDep, settings: SettingsDep, prediction_log: PredictionLogDep
) -> JSONBody:
    """The served version's whole manifest (smoke rows, params, data hashes), the last
    refused version, the prediction log's status, and the canary's and shadow's versions."""
    served = holder.served
    return JSONBody(
        {
            **(served.loaded.manifest if served else {}),
            "name": settings.model_name,
            "runtime": served.loaded.runtime if served else None,
            "environment": holder.env,
            "refused": holder.refused,
            "prediction_log": prediction_log.status() if prediction_log else None,
            **request.app.state.traffic.status(),
        }
    )


@router.post("/reload")
async def reload(holder: HolderDep) -> JSONBody:
    """Load the version the environment's pointer names now, instead of at the next poll;
    a version refused before is tried again, whatever the reason was."""
    # Loading takes a while: a worker thread keeps the event loop answering meanwhile.
    version = await asyncio.to_thread(holder.sync, retry=True)
    return JSONBody({"model_version": version, "refused": holder.refused})


@router.post(
    "/rollback",
    responses={409: {"description": "no version to go back to, or it fails a check"}},
)
async def rollback(holder: HolderDep) -> JSONBody:
    """Point this server's environment (DEPLOY_ENV) back at the version it served before,
    as `make rollback` does, once it passes every check of a load, and serve it. With
    several workers, the others follow at their next poll."""
    try:
        version = await asyncio.to_thread(holder.rollback)
    except PipelineError as error:  # nothing to go back to, or a version that fails a check
        raise HTTPException(409, detail=str(error)) from None
    return JSONBody({"model_version": version, "refused": holder.refused})
