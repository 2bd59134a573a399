"""Admin calls, behind the bearer token SERVE_ADMIN_TOKEN: the whole manifest, a reload
now, a rollback."""

import asyncio

from fastapi import APIRouter, Depends, HTTPException

from ...deploy.registry import RegistryError
from ..dependencies import HolderDep, PredictionLogDep, SettingsDep, require_admin
from ..responses import JSONBody

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/model")
async def admin_model(
    holder: HolderDep, settings: SettingsDep, prediction_log: PredictionLogDep
) -> JSONBody:
    """The served version's whole manifest (smoke rows, params, data hashes), the last
    refused version and the prediction log's status."""
    served = holder.served
    return JSONBody(
        {
            **(served.loaded.manifest if served else {}),
            "name": settings.model_name,
            "environment": holder.env,
            "refused": holder.refused,
            "prediction_log": prediction_log.status() if prediction_log else None,
        }
    )


@router.post("/reload")
async def reload(holder: HolderDep) -> JSONBody:
    """Load the version the environment's pointer names now, instead of at the next poll."""
    # Loading takes a while: a worker thread keeps the event loop answering meanwhile.
    version = await asyncio.to_thread(holder.sync)
    return JSONBody({"model_version": version, "refused": holder.refused})


@router.post("/rollback", responses={409: {"description": "there is no version to go back to"}})
async def rollback(holder: HolderDep) -> JSONBody:
    """Point this server's environment (DEPLOY_ENV) back at the version it served before,
    as `make rollback` does, and serve it. With several workers, the others follow at
    their next poll."""
    try:
        await asyncio.to_thread(holder.registry.rollback, holder.env)
    except RegistryError as error:
        raise HTTPException(409, detail=str(error)) from None
    version = await asyncio.to_thread(holder.sync)
    return JSONBody({"model_version": version, "refused": holder.refused})
