"""Run the server with uvicorn: `python -m <package> serve` (or `make serve`)."""

import asyncio
import sys

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .app import create_app
from .settings import Settings

# Threads hand over the GIL every 5 ms by default; 1 ms lets the event loop keep answering
# while a worker thread loads a new version (measured: lower p99 during hot swaps).
GIL_SWITCH_INTERVAL = 0.001
KEEP_ALIVE_SECONDS = 5
MAX_HEAD_BYTES = 16 * 1024


def head_timeout(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, closing a connection that has not sent a whole request head
    `seconds` after it opened or after its last response (uvicorn alone waits forever for
    a half-sent head, and for the first request on a new connection)."""

    class HeadTimeout(AutoHTTPProtocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_later(seconds, self._head_deadline)

        def _head_deadline(self) -> None:
            waiting = self.cycle is None or self.cycle.response_complete  # no request running
            if waiting and not self.transport.is_closing():
                self.transport.close()

    return HeadTimeout


def main(argv: list[str]) -> None:
    settings = Settings()
    settings.check_model_name()
    settings.check_exposure()
    settings.check_prediction_log()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        # Idle keep-alive connections close after 5 s; beyond max_connections open connections
        # and tasks new requests get 503; request heads (with the h11 parser) are bounded.
        # A request head must arrive within SERVE_READ_TIMEOUT (the connection is closed), and
        # so must its body (the app answers 408).
        http=head_timeout(settings.read_timeout),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
