"""Which version answers a request, and which one also sees it: canary and shadow.

Canary (SERVE_CANARY=<environment>:<percent>): that share of requests is answered by the
version that environment serves. The split is sticky per client: a request's key (its
X-Client-Id header, else a fresh random one) hashes to one of 10,000 buckets, the same in
every worker and replica. Shadow (SERVE_SHADOW=<environment>, SERVE_SHADOW_SHARE): after
the answer has gone, the request's rows also go through the version that environment
serves, on a micro-batcher of its own with a bounded backlog, so the shadow never delays an
answer; its predictions are logged with the answer's prediction ids and compared with the
answer's in /metrics. Each environment's version follows its pointer (hot swap), as the
primary's does.
"""

import asyncio
import hashlib
import logging
import random
import time
from dataclasses import dataclass

import numpy as np

from .batching import MicroBatcher
from .holder import ModelHolder, Served
from .inputs import InputError

log = logging.getLogger(__name__)
BUCKETS = 10_000
SHADOW_BACKLOG_ROWS = 10_000  # shadow rows waiting beyond this: the sample is skipped
PRIMARY, CANARY, SHADOW = "primary", "canary", "shadow"


def bucket(key: str) -> int:
    """The client's bucket: stable across processes and restarts (Python's hash is not)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def agreement(primary: list, shadow: list, classes: list | None) -> tuple[int, list[float]]:
    """Rows on which a classifier's two versions agree; for a regressor, each row's relative
    difference |a - b| / max(|a|, |b|) (0 when both are 0)."""
    if classes:
        return sum(a == b for a, b in zip(primary, shadow, strict=True)), []
    a, b = np.asarray(primary, dtype=float), np.asarray(shadow, dtype=float)
    scale = np.maximum(np.abs(a), np.abs(b))
    relative = np.divide(np.abs(a - b), scale, out=np.zeros_like(scale), where=scale > 0)
    return int((relative <= 1e-6).sum()), relative.tolist()


@dataclass
class Other:
    """A second environment's version, with what it is used for."""

    holder: ModelHolder
    share: float  # of requests: the canary's percent / 100, the shadow's sample

    @property
    def served(self) -> Served | None:
        return self.holder.served


class Traffic:
    """The primary holder and, when set, the canary's and the shadow's."""

    def __init__(
        self, primary: ModelHolder, canary: Other | None = None, shadow: Other | None = None
    ) -> None:
        self.primary, self.canary, self.shadow = primary, canary, shadow
        self.shadow_batcher: MicroBatcher | None = None
        self.shadow_skipped = 0
        self.shadow_backlog = 0  # rows handed to the shadow and not predicted yet
        self._shadows: set[asyncio.Task] = set()  # referenced until done (asyncio keeps weak)

    def holders(self) -> list[ModelHolder]:
        return [self.primary] + [other.holder for other in (self.canary, self.shadow) if other]

    def answering(self, client_key: str) -> tuple[Served | None, str]:
        """The version that answers a request from this client, and its role. A canary
        environment with nothing loaded leaves every request to the primary."""
        canary = self.canary
        if canary and canary.served and bucket(client_key) < canary.share * BUCKETS:
            return canary.served, CANARY
        return self.primary.served, PRIMARY

    def wants_shadow(self, answered_by: Served) -> Served | None:
        shadow = self.shadow
        if shadow is None or shadow.served is None:
            return None
        if shadow.served.version == answered_by.version:  # the same answers: nothing to learn
            return None
        if shadow.share < 1 and random.random() >= shadow.share:
            return None
        if self.shadow_batcher is None or self.shadow_backlog >= SHADOW_BACKLOG_ROWS:
            self.shadow_skipped += 1
            return None
        return shadow.served

    def after_answer(self, served: Served, records: list, max_rows: int, done) -> None:
        """Check the records against the shadow `served` and run them through it, off the
        response path; `done(result, seconds)` gets its outputs. A request the shadow
        cannot take (its schema differs) or a failure is logged, never answered."""
        assert self.shadow_batcher is not None
        batcher = self.shadow_batcher

        async def run() -> None:
            self.shadow_backlog += len(records)
            try:
                started = time.perf_counter()
                rows = served.schema.check_records(records, max_rows)
                done(await batcher.predict(served, rows), time.perf_counter() - started)
            except InputError as error:
                log.warning(
                    "the shadow version %s cannot take a request: %s", served.version, error
                )
            except Exception:
                log.exception("the shadow version %s failed on a request", served.version)
            finally:
                self.shadow_backlog -= len(records)

        task = asyncio.get_running_loop().create_task(run())
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    def start(self, poll_interval: float, batch_wait: float, batch_rows: int) -> None:
        for other in (self.canary, self.shadow):
            if other:
                other.holder.sync()
                other.holder.watch(poll_interval)
        if self.shadow:
            self.shadow_batcher = MicroBatcher(batch_wait, batch_rows)
            self.shadow_batcher.start()

    async def stop(self) -> None:
        for other in (self.canary, self.shadow):
            if other:
                other.holder.stop()
        if self._shadows:  # shadows already queued finish (the drain waits for answers only)
            await asyncio.wait(self._shadows, timeout=5)
        if self.shadow_batcher:
            await self.shadow_batcher.stop()

    def status(self) -> dict:
        def one(other: Other | None, share_name: str) -> dict | None:
            if other is None:
                return None
            served = other.served
            return {
                "environment": other.holder.env,
                "version": served.version if served else None,
                share_name: other.share,
                "refused": other.holder.refused,
            }

        status = {CANARY: one(self.canary, "share"), SHADOW: one(self.shadow, "share")}
        if self.shadow:
            status[SHADOW] |= {"skipped_for_backlog": self.shadow_skipped}  # type: ignore[operator]
        return status
