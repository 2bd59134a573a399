"""Run the server with uvicorn: `python -m <package> serve` (or `make serve`).

SERVE_WORKERS processes share one port; each loads the model and follows the environment's
pointer on its own. SIGTERM (or Ctrl-C) stops taking connections, answers the requests in
flight (for up to SERVE_DRAIN_TIMEOUT seconds) and exits 0.
"""

import asyncio
import functools
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .settings import Settings

APP_FACTORY = f"{__package__}.app:create_app"  # an import string: each worker builds its app
KEEP_ALIVE_SECONDS = 5
MAX_HEAD_BYTES = 16 * 1024
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess mode
# prometheus-client's own files there: <type>_<pid>.db, a gauge's type with its mode
# (gauge_livesum_123.db); any other file in the folder is the user's.
METRICS_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_[0-9]+\.db")


@functools.cache
def read_timeout() -> float:
    return Settings().read_timeout  # once per worker process


# uvicorn declares AutoHTTPProtocol a variable (httptools' protocol when installed, else
# h11's), which mypy refuses as a base class; it is a class at run time.
class HeadTimeout(AutoHTTPProtocol):  # type: ignore[valid-type,misc]
    """uvicorn's HTTP protocol, closing a connection that has not sent a whole request head
    `seconds` (SERVE_READ_TIMEOUT by default) after it opened or after its last response
    (uvicorn alone waits forever for a half-sent head, and for the first request on a new
    connection). A module-level class, so that spawned worker processes can import it."""

    seconds: float | None = None  # None: SERVE_READ_TIMEOUT
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
        seconds = self.seconds or read_timeout()
        self._head_timer = self.loop.call_later(seconds, self._head_deadline)

    def _head_deadline(self) -> None:
        waiting = self.cycle is None or self.cycle.response_complete  # no request running
        if waiting and not self.transport.is_closing():
            self.transport.close()


@contextmanager
def metrics_folder(workers: int) -> Iterator[None]:
    """Several workers keep their metrics in files for a scrape to sum: in the folder
    PROMETHEUS_MULTIPROC_DIR names, rid of prometheus-client's files first (values of an
    earlier run would add up), or else in a private temporary folder, removed at the end."""
    given = os.environ.get(METRICS_DIR)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            if METRICS_FILE.fullmatch(stale.name):
                stale.unlink()
        yield
        return
    if workers == 1:  # one process: metrics in memory
        yield
        return
    private = tempfile.mkdtemp(prefix="serve-metrics-")
    os.environ[METRICS_DIR] = private  # the workers inherit it
    try:
        yield
    finally:
        del os.environ[METRICS_DIR]
        shutil.rmtree(private, ignore_errors=True)


def main(argv: list[str]) -> None:
    settings = Settings()
    settings.check_model_name()
    settings.check_exposure()
    settings.check_prediction_log()
    settings.check_workers()
    # uvicorn raises the signal it stopped for again once it has drained, which would end
    # the process as killed by it: a handler makes that a no-op, so a stop exits 0.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda signum, frame: None)
    with metrics_folder(settings.workers):
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            access_log=False,
            # Idle keep-alive connections close after 5 s; beyond max_connections open
            # connections and tasks (per worker) new requests get 503; request heads (with
            # the h11 parser) are bounded. A request head must arrive within
            # SERVE_READ_TIMEOUT (the connection is closed), and so must its body (the app
            # answers 408).
            http=HeadTimeout,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            limit_concurrency=settings.max_connections,
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
            # On SIGTERM: no new connections, requests in flight answered for up to this long.
            # uvicorn annotates it int, but hands it to asyncio.wait_for, which takes float.
            timeout_graceful_shutdown=settings.drain_timeout,  # type: ignore[arg-type]
        )
