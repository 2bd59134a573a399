"""Adaptive micro-batching: concurrent requests share one predict call.

A predict call costs about the same for 1 row as for 100, so while one call runs, the
requests that arrive queue up and go together in the next. An idle server answers at once;
a busy one waits at most `wait` seconds to fill a batch of up to `max_rows` rows.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..deploy.graph import as_outputs
from .holder import Served
from .inputs import Columns, InputError


@dataclass
class Job:
    served: Served
    rows: Columns
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    def __init__(self, wait: float, max_rows: int) -> None:
        self.wait = wait
        self.max_rows = max_rows
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()

    async def predict(self, served: Served, rows: Columns) -> dict:
        """Queue checked rows; return their predictions (and probabilities)."""
        job = Job(served, rows, asyncio.get_running_loop().create_future())
        self.queue.put_nowait(job)
        return await job.future

    async def _collect(self) -> list[Job]:
        """Take what is queued; wait for company only when there is some (never when idle)."""
        loop = asyncio.get_running_loop()
        jobs = [await self.queue.get()]
        rows = len(jobs[0].rows)
        deadline = loop.time() + self.wait
        while rows < self.max_rows:
            if not self.queue.empty():
                jobs.append(self.queue.get_nowait())
            elif len(jobs) == 1 or loop.time() >= deadline:
                break
            else:
                try:
                    jobs.append(await asyncio.wait_for(self.queue.get(), deadline - loop.time()))
                except asyncio.TimeoutError:  # the builtin TimeoutError only from 3.11
                    break
            rows += len(jobs[-1].rows)
        return jobs

    async def _run(self) -> None:
        while True:
            jobs = await self._collect()
            # A swap can land mid-batch: each request goes to the version that checked it.
            for served in {id(job.served): job.served for job in jobs}.values():
                group = [job for job in jobs if job.served is served]
                try:
                    results = await asyncio.to_thread(settle, served, group)
                except Exception as error:  # reported to each caller, never lost
                    results = [error] * len(group)
                for job, result in zip(group, results, strict=True):
                    if job.future.done():
                        continue
                    if isinstance(result, BaseException):
                        job.future.set_exception(result)
                    else:
                        job.future.set_result(result)


def settle(served: Served, jobs: list[Job]) -> Sequence[dict | Exception]:
    """Each job's answer, or the error of its rows alone.

    A predict call that fails is split in halves and retried, down to the jobs that fail on
    their own, so one bad request never fails the requests batched with it; with one bad
    request among n, that costs about 2 log2(n) more calls, only when something failed.
    """
    try:
        return run_batch(served, jobs)
    except Exception as error:
        if len(jobs) > 1:
            middle = len(jobs) // 2
            return [*settle(served, jobs[:middle]), *settle(served, jobs[middle:])]
        if isinstance(error, InputError):
            return [error]
        if isinstance(error, (ValueError, ArithmeticError)):
            # The model's own input checks (e.g. a value too large for float32): the rows'
            # fault, as the version's smoke rows passed when it was loaded.
            message = f"the model could not take these rows: {error}"
            return [InputError(message)]
        return [error]


def run_batch(served: Served, jobs: list[Job]) -> list[dict]:
    """One predict call for all jobs' rows, split back per job in order."""
    parts = [job.rows for job in jobs]
    if served.direct is not None:
        numbers = np.concatenate([part.numbers for part in parts])
        texts = np.concatenate([part.texts for part in parts])
        result = as_outputs(*served.direct.run(numbers, texts))
    else:
        result = served.loaded.outputs(served.schema.frame(parts))
    answers, start = [], 0
    for job in jobs:
        end = start + len(job.rows)
        answers.append({key: values[start:end] for key, values in result.items()})
        start = end
    return answers
