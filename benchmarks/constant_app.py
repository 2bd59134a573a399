"""A Starlette route that returns a constant: the framework's floor for benchmarks/serve.py."""

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route


async def constant(request) -> Response:
    await request.body()
    return Response(b'{"predictions":[0]}', media_type="application/json")


app = Starlette(routes=[Route("/predict", constant, methods=["POST"])])
