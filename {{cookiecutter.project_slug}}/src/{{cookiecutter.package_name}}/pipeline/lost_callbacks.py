"""Stop a stage whose work was lost in a callback of the Dask client's event loop.

joblib's Dask backend hands each batch of work (a forest's trees, with the rows they need)
to the cluster in a callback on the client's event loop. When a worker dies just then, the
callback fails with a closed connection, tornado logs it, and the Parallel call waiting for
that batch waits forever. `interrupted_on_lost_callback` watches that log while a stage
runs and raises CallbackLost in the waiting (main) thread instead, which the stage says in
one line (so tornado's traceback of it is left out).
"""

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# Where tornado, under Dask's client, logs a callback that raised.
CALLBACK_LOG = "tornado.application"


class CallbackLost(Exception):
    """Work handed to the cluster in a callback was lost: nothing will ever deliver it."""


class _Watch(logging.Filter):
    """Takes a failed callback that lost a connection out of the log and signals the main
    thread, the first time."""

    def __init__(self) -> None:
        super().__init__()
        self.main = threading.get_ident()  # made in the main thread
        self.error: BaseException | None = None
        self.closed = False
        self.guard = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, OSError):  # distributed's CommClosedError is one
            return True
        with self.guard:
            if not self.closed and self.error is None:
                self.error = error
                # A signal, not a flag: it wakes the main thread wherever it waits.
                signal.pthread_kill(self.main, signal.SIGINT)
        return False

    def close(self) -> None:
        with self.guard:
            self.closed = True


@contextmanager
def interrupted_on_lost_callback() -> Iterator[None]:
    """Raise CallbackLost in the main thread when a callback loses a connection; Ctrl-C
    stays KeyboardInterrupt. Outside the main thread (no signals there) it watches nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    watch = _Watch()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if watch.error is None:
            raise KeyboardInterrupt
        raise CallbackLost(f"{type(watch.error).__name__}: {watch.error}")

    previous = signal.signal(signal.SIGINT, interrupt)
    logger = logging.getLogger(CALLBACK_LOG)
    logger.addFilter(watch)
    try:
        yield
    finally:
        logger.removeFilter(watch)
        watch.close()
        signal.signal(signal.SIGINT, previous)
