"""Each connection's HTTP protocol: time bounds on request heads, and a stop that answers a
request already on its way."""

import asyncio
import functools

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .settings import Settings

SHUTDOWN_GRACE = 1.0  # s a stop waits for a request on a connection that has sent none yet


@functools.cache
def read_timeout() -> float:
    return Settings().read_timeout  # once per worker process


# uvicorn declares AutoHTTPProtocol a variable (httptools' protocol when installed, else
# h11's), which mypy refuses as a base class; it is a class at run time.
class HeadTimeout(AutoHTTPProtocol):  # type: ignore[valid-type,misc]
    """uvicorn's HTTP protocol, closing a connection that has not sent a whole request head
    `seconds` (SERVE_READ_TIMEOUT by default) after it opened or after its last response
    (uvicorn alone waits forever for a half-sent head, and for the first request on a new
    connection), and on a stop, answering a request already on its way. A module-level
    class, so that spawned worker processes can import it."""

    seconds: float | None = None  # None: SERVE_READ_TIMEOUT
    stopping = False  # set on a connection, or on the class for the process's stop
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self._arm_head_timer(SHUTDOWN_GRACE if self.stopping else None)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.stopping and self.cycle is not None:
            self.cycle.keep_alive = False  # answered, then the connection closes

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_timer()

    def shutdown(self) -> None:
        """On a stop, uvicorn closes at once a connection with no request running, so a
        request sent on a new connection just before was reset (a few per stop, under
        load, with two workers). Such a connection gets SHUTDOWN_GRACE seconds for its
        head instead: a request arriving by then is answered, and the connection closed."""
        self.stopping = True
        if self.cycle is None or self.cycle.response_complete:
            self._arm_head_timer(SHUTDOWN_GRACE)
        else:
            super().shutdown()  # the running request is answered, then the connection closes

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm_head_timer(self, seconds: float | None = None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        seconds = seconds or self.seconds or read_timeout()
        self._head_timer = self.loop.call_later(seconds, self._head_deadline)

    def _head_deadline(self) -> None:
        waiting = self.cycle is None or self.cycle.response_complete  # no request running
        if waiting and not self.transport.is_closing():
            self.transport.close()
