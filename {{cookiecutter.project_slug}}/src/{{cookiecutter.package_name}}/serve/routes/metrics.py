"""GET /metrics: Prometheus' text format, public like the health checks."""

from fastapi import APIRouter, Response

from .. import metrics

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def prometheus_metrics() -> Response:
    """Requests, latency, rows, batch sizes, the served version, loads and refusals (a
    plain function: FastAPI runs it in a thread, as reading several workers' files takes a
    moment)."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
