"""Log each prediction request as one JSON line, off the request's path, in bounded files.

Requests only put their rows on a queue; one writer thread serialises and appends them
(whole lines per write, so concurrent requests never interleave). The active file is
predictions.jsonl; when it reaches its share of the size bound it is renamed to
predictions-<time>-<n>.jsonl before a write would take it past its share, and the oldest
such files are deleted, so the folder never holds more than SERVE_PREDICTION_LOG_MAX_MB.
A request whose line alone is larger than a file's share is not logged but counted
(too_large). A folder that cannot be created, or a failed write (a full disk, say), stops
logging, logs the error and shows it in GET /admin/model; serving carries on.
`python -m <package> monitor <folder>` reads these files as a batch.
"""

import logging
import queue
import threading
import time
from pathlib import Path
from typing import BinaryIO

import orjson

from .metrics import LOG_DROPPED

log = logging.getLogger(__name__)
ACTIVE = "predictions.jsonl"
FILES = 10  # the size bound is shared by this many files: the active one and rotated ones
DRAIN = 1000  # lines gathered into one write
LOGGED = ("predictions", "probabilities")  # of an answer's outputs
_STOP = object()
# Requests not logged, counted for GET /metrics by reason.
QUEUE_FULL, TOO_LARGE, STOPPED = (
    LOG_DROPPED.labels(reason) for reason in ("queue_full", "too_large", "stopped")
)


class PredictionLog:
    def __init__(
        self, folder: Path, max_bytes: int, queue_size: int = 200_000, opener=None
    ) -> None:
        self.folder = Path(folder)
        self._open = opener or (lambda path: path.open("ab"))  # tests simulate a full disk
        self.max_bytes = max_bytes
        self.file_bytes = min(max(max_bytes // FILES, 4096), max_bytes)
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.written = self.dropped = self.too_large = 0
        self.error: str | None = None
        self._rotations = 0
        self._handle: BinaryIO | None = None
        self._size = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)

    def start(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self.error = f"prediction logging off: cannot create {self.folder}: {error}"
            log.error("%s - serving continues without it", self.error)
            return
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then close."""
        if self._thread.is_alive():
            self.queue.put(_STOP)
            self._thread.join(timeout=30)

    def record(self, version: str, inputs: list | None, outputs: dict, role: str) -> None:
        """Called by a request: never blocks, never raises. `outputs`: the answer's
        predictions, prediction_ids and (a classifier's) probabilities; `role`: primary,
        canary or shadow (whose line has no inputs: its answer's line has them)."""
        if self.error is not None:
            STOPPED.inc()
            return
        try:
            self.queue.put_nowait((time.time(), version, inputs, outputs, role))
        except queue.Full:
            self.dropped += 1  # the writer cannot keep up; counted, shown in GET /admin/model
            QUEUE_FULL.inc()

    def status(self) -> dict:
        return {
            "folder": str(self.folder),
            "written": self.written,
            "dropped": self.dropped,
            "too_large": self.too_large,
            "error": self.error,
        }

    def _run(self) -> None:
        while True:
            entries = [self.queue.get()]
            while len(entries) < DRAIN and not self.queue.empty():
                entries.append(self.queue.get_nowait())
            # Requests may still arrive behind the stop mark: their lines are written too.
            stop = any(entry is _STOP for entry in entries)
            entries = [entry for entry in entries if entry is not _STOP]
            if entries and self.error is None:
                self._write_lines(entries)
            if stop:
                break
        if self._handle is not None:
            self._handle.close()

    def _write_lines(self, entries: list) -> None:
        lines = [
            orjson.dumps(
                {
                    "time": at,
                    "model_version": version,
                    "role": role,
                    "prediction_ids": outputs.get("prediction_ids"),
                    **({"inputs": inputs} if inputs is not None else {}),
                    "outputs": {key: outputs[key] for key in LOGGED if key in outputs},
                },
                option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE,
                default=str,
            )
            for at, version, inputs, outputs, role in entries
        ]
        fitting = [line for line in lines if len(line) <= self.file_bytes]
        if len(fitting) < len(lines):
            if not self.too_large:
                log.warning(
                    "a request too large for the prediction log (over %d bytes) is not logged",
                    self.file_bytes,
                )
            self.too_large += len(lines) - len(fitting)
            TOO_LARGE.inc(len(lines) - len(fitting))
            lines = fitting
        try:
            for chunk in self._chunks(lines):
                handle = self._active()  # the file _chunks opened for this chunk
                handle.write(chunk)
                handle.flush()
                self._size += len(chunk)
        except OSError as error:
            self.error = f"prediction logging stopped: {error}"
            log.error("%s - serving continues without it", self.error)
            STOPPED.inc(len(lines))
            return
        self.written += len(lines)

    def _chunks(self, lines: list[bytes]):
        """Whole lines, at most what fits the active file; rotate when it is full."""
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            self._active()  # opens the active file and reads its size when none is open
            if chunk and self._size + size + len(line) > self.file_bytes:
                yield b"".join(chunk)
                chunk, size = [], 0
            if not chunk and self._size and self._size + len(line) > self.file_bytes:
                self._rotate()
                self._handle = self._open(self.folder / ACTIVE)
                self._size = 0
            chunk.append(line)
            size += len(line)
        if chunk:
            yield b"".join(chunk)

    def _active(self) -> BinaryIO:
        """The active file, opened (and its size read) when none is open."""
        if self._handle is None:
            self._handle = self._open(self.folder / ACTIVE)
            self._size = (self.folder / ACTIVE).stat().st_size
        return self._handle

    def _rotate(self) -> None:
        self._active().close()
        self._handle = None
        self._rotations += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        rotated_name = f"predictions-{stamp}-{self._rotations:06d}.jsonl"
        (self.folder / ACTIVE).replace(self.folder / rotated_name)
        rotated = sorted(
            self.folder.glob("predictions-*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name)
        )
        # Keep the rotated files within the bound, less the room the active file will take.
        total = sum(path.stat().st_size for path in rotated)
        while rotated and total > self.max_bytes - self.file_bytes:
            oldest = rotated.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink()
