"""Liveness and readiness, for load balancers and Kubernetes probes."""

from fastapi import APIRouter

from ..dependencies import HolderDep
from ..responses import JSONBody
from ..schemas import Health

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=Health)
async def live() -> JSONBody:
    """The process is up."""
    return JSONBody({"status": "alive"})


@router.get("/ready", response_model=Health, responses={503: {"model": Health}})
async def ready(holder: HolderDep) -> JSONBody:
    """A model is loaded (503 before the first one)."""
    served = holder.served
    if served is None:
        return JSONBody({"status": "no model loaded"}, status_code=503)
    return JSONBody({"status": "ready", "model_version": served.version})
