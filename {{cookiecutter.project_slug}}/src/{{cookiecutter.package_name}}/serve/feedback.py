"""Outcomes posted to the server, appended to outcomes.jsonl beside the prediction log.

One writer process holds the log (SERVE_WORKERS=1 with SERVE_PREDICTION_LOG), so the ids
stored so far are known here: an id sent again is not stored again.
"""

import threading
import time
from pathlib import Path

from ..monitoring import outcomes


class FeedbackStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._stored: set[str] | None = None  # read from the folder on the first post

    def store(self, pairs: list) -> tuple[int, int]:
        """Append the outcomes whose ids have none yet; (stored, already stored). Blocking:
        routes call it in a worker thread."""
        with self._lock:
            if self._stored is None:
                self._stored = outcomes.stored_ids(self.folder)
            fresh = [(i, label) for i, label in pairs if i not in self._stored]
            if fresh:
                with (self.folder / outcomes.ACTIVE).open("ab") as handle:
                    handle.write(outcomes.lines(fresh, time.time()))
                self._stored.update(i for i, _ in fresh)
            return len(fresh), len(pairs) - len(fresh)
