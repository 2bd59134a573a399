"""Run the server with uvicorn: `python -m <package> serve` (or `make serve`)."""

import uvicorn

from .app import create_app
from .settings import Settings


def main() -> None:
    settings = Settings()
    settings.check_exposure()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False)
