"""Stop a stage whose work was lost in a callback of the Dask client's event loop.

joblib's Dask backend hands each batch of work (a forest's trees, with the rows they need)
to the cluster in a callback on the client's event loop. When that callback fails (a worker
dies as the rows are scattered to it: a closed connection), tornado logs the error, and the
Parallel call waiting for that batch waits forever. `interrupted_on_lost_callback` watches
that log while a stage runs and raises CallbackLost in the waiting (main) thread instead,
which the stage says in one line (so tornado's traceback of it is left out).
"""

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType

# Where tornado, under Dask's client, logs a callback that raised.
CALLBACK_LOG = "tornado.application"


class CallbackLost(BaseException):
    """Work handed to the cluster in a callback was lost: nothing will ever deliver it.
    A BaseException, as KeyboardInterrupt is: no `except Exception` on the way up (a
    user's derive() wrapped in one) may take it for its own error."""


def from_joblib(traceback: TracebackType | None) -> bool:
    """Whether the error went through joblib's Dask backend (joblib/_dask.py)."""
    while traceback is not None:
        path = Path(traceback.tb_frame.f_code.co_filename)
        if path.name == "_dask.py" and path.parent.name == "joblib":
            return True
        traceback = traceback.tb_next
    return False


class _Watch(logging.Filter):
    """Takes the first failed joblib callback out of the log and signals the main thread;
    other records pass."""

    def __init__(self) -> None:
        super().__init__()
        self.main = threading.get_ident()  # made in the main thread
        self.error: BaseException | None = None
        self.signalled = False  # a SIGINT of ours is on its way
        self.answered = False
        self.closed = False
        self.guard = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or not from_joblib(error.__traceback__):
            return True
        with self.guard:
            if not self.closed and not self.signalled:
                self.error, self.signalled = error, True
                # A signal, not a flag: it wakes the main thread wherever it waits.
                signal.pthread_kill(self.main, signal.SIGINT)
        return False

    def close(self) -> None:
        with self.guard:
            self.closed = True


@contextmanager
def interrupted_on_lost_callback() -> Iterator[None]:
    """Raise CallbackLost in the main thread when joblib's Dask backend loses a callback.
    Any other SIGINT is handled as it was (Ctrl-C stays KeyboardInterrupt). Outside the
    main thread (no signals there), or when SIGINT's handler was set outside Python, it
    watches nothing."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    watch = _Watch()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if watch.signalled and not watch.answered:
            watch.answered = True
            if not watch.closed:
                raise CallbackLost(f"{type(watch.error).__name__}: {watch.error}")
            return  # the stage ended before it came: nothing waited for the lost work
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    logger = logging.getLogger(CALLBACK_LOG)
    logger.addFilter(watch)
    try:
        yield
    finally:
        try:
            watch.close()  # from here a late signal of ours changes nothing
            logger.removeFilter(watch)
        finally:
            signal.signal(signal.SIGINT, previous)
