"""Tables in partitions on a Dask cluster: the dask engine (pipeline/engine.py picks it).

The same interface as tables.py, so the stages' partition functions run unchanged: `map`
becomes map_partitions, `summarise` one task per partition. Partitions come from the data's
files (dask's own splitting), never from the number of workers, and every row's fate is
decided from its values (rows.py), so any cluster writes the same bytes.
"""

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd
from dask.delayed import Delayed
from dask.utils import parse_timedelta
from distributed import Client, KilledWorker, LocalCluster, as_completed, get_client
from distributed.client import FutureCancelledError
from distributed.comm import connect
from distributed.security import Security
from joblib import parallel_config

from ..errors import PipelineError
from .lost_callbacks import CallbackLost, interrupted_on_lost_callback
from .sources import find_parts, unreadable, write_part
from .tables import part_name

log = logging.getLogger(__name__)
# Dask logs each connection, worker and shutdown step at INFO: the stages' own lines (the
# dashboard's address, progress) are what a user reads; Dask's warnings still show.
logging.getLogger("distributed").setLevel(logging.WARNING)
# Text stays in pandas' own string type, as the local engine reads it, so both engines
# hash and compare the same values.
dask.config.set({"dataframe.convert-string": False})
SCHEDULER_VARIABLE = "DASK_SCHEDULER_ADDRESS"
# How long joining a scheduler may take: Dask's own setting (30 s unless
# DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT says otherwise).
CONNECT_TIMEOUT = "distributed.comm.timeouts.connect"


class Table:
    """A dask DataFrame seen through the local engine's interface."""

    def __init__(self, frame: dd.DataFrame):
        self.frame = frame

    @property
    def meta(self) -> pd.DataFrame:
        return self.frame._meta

    @property
    def columns(self) -> list[str]:
        return [str(name) for name in self.frame.columns]

    @property
    def partitions(self) -> int:
        return self.frame.npartitions

    def map(self, fn: Callable[..., pd.DataFrame], *args: Any) -> "Table":
        """fn(partition, number, *args) on each partition, on the workers."""
        shipped = [shared(arg) for arg in args]
        meta = fn(self.meta.iloc[:0], 0, *args)
        return Table(self.frame.map_partitions(call, fn, *shipped, meta=meta))

    def summarise(self, fn: Callable[..., Any], *args: Any) -> list:
        """[fn(partition, number, *args) for each partition], computed on the workers."""
        shipped = [shared(arg) for arg in args]
        tasks = [
            dask.delayed(fn)(part, number, *shipped)
            for number, part in enumerate(self.frame.to_delayed())
        ]
        return gather(tasks, f"{getattr(fn, '__name__', 'task')}")

    def to_pandas(self) -> pd.DataFrame:
        """The whole table as one frame (bounded data only: a sample, a training set)."""
        return self.frame.compute().reset_index(drop=True)

    def write(self, path: Path | str) -> int:
        """A folder of part-00000.parquet, ...: the pipeline's intermediates at scale. What
        was at path goes first (dvc repro removes a stage's outputs too; a stage run by hand
        must not leave an earlier run's extra parts to be read with the new ones)."""
        path = Path(path)
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
        return self.write_parts(path)

    def write_parts(self, folder: Path | str) -> int:
        """part-00000.parquet, ... in folder (a path or URL), written by the workers."""
        if "://" not in str(folder):  # a worker's working folder is not this process's
            folder = Path(folder).resolve()
        tasks = [
            dask.delayed(write_counted)(part, part_name(folder, number))
            for number, part in enumerate(self.frame.to_delayed())
        ]
        return sum(gather(tasks, f"write {folder}"))


def call(partition: pd.DataFrame, fn: Callable, *args: Any, partition_info=None):
    """map_partitions' entry: dask passes the partition's number as partition_info."""
    number = partition_info["number"] if partition_info else 0
    return fn(partition, number, *args)


def shared(value: Any) -> Any:
    """Ship a large argument (a model, a schema) once, not once per task."""
    if value is None or isinstance(value, int | float | str | bool):
        return value
    return dask.delayed(value, pure=True, traverse=False)


def write_counted(frame: pd.DataFrame, location: str) -> int:
    write_part(frame, location)
    return len(frame)


def gather(tasks: list[Delayed], what: str) -> list:
    """Compute tasks on the cluster, logging progress every 10 seconds; results in order."""
    client = get_client()
    futures = client.compute(tasks)
    last = time.monotonic()
    try:
        for done, _ in enumerate(as_completed(futures), start=1):
            if time.monotonic() - last > 10 and done < len(futures):
                log.info("%s: %d of %d partitions done", what, done, len(futures))
                last = time.monotonic()
        return client.gather(futures)
    except pd.errors.ParserError as error:  # a ragged line past the rows dask sampled
        raise unreadable("a CSV file of the data", error) from None
    except ValueError as error:
        if "Mismatched dtypes" not in str(error):
            raise
        # dask guesses a CSV column's type from the first rows; a later block disagrees.
        found = "\n".join(line for line in str(error).splitlines() if line.startswith("|"))
        raise PipelineError(
            "a CSV column's type changes past the rows dask sampled to guess it - convert the "
            f"data to Parquet, which records each column's type:\n{found}"
        ) from None


def open_table(source: str | Path, chunk_rows: int | None = None) -> Table:
    """The table a file, folder, glob or URL holds (see sources.py), in dask's partitions;
    partitions are bounded by dask itself: CSV in blocks of 64 MB, Parquet by row group
    and size, so chunk_rows (the local engine's bound) is not needed here."""
    parts = find_parts(str(source))
    if parts[0].kind == "bundled":
        return from_frame(parts[0].read())
    files = [part.location for part in parts]
    try:
        if parts[0].kind == "csv":
            frame = dd.read_csv(files, blocksize="64MB")
        else:
            frame = dd.read_parquet(files)
    except (OSError, ValueError, ImportError) as error:
        raise unreadable(str(source), error) from error
    return Table(frame.rename(columns={name: str(name) for name in frame.columns}))


def from_frame(frame: pd.DataFrame) -> Table:
    """One partition holding a frame already in memory."""
    return Table(dd.from_pandas(frame, npartitions=1, sort=False))


@contextmanager
def running() -> Iterator[Client]:
    """Connect to DASK_SCHEDULER_ADDRESS, or start a LocalCluster sized to this machine
    (a worker process per core, listening on 127.0.0.1 only); joblib's work (a forest's
    trees) goes to the workers. Scheduler and workers run each other's pickles: join only a
    cluster you trust, on a private network or with TLS (tls:// and certificates)."""
    address = os.environ.get(SCHEDULER_VARIABLE)
    cluster = None if address else local_cluster()
    try:
        client = join(address) if address else Client(cluster)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    log.info("Dask dashboard: %s", client.dashboard_link)
    try:
        with parallel_config(backend="dask"), interrupted_on_lost_callback():
            yield client
    except (KilledWorker, FutureCancelledError, CallbackLost) as error:
        # A worker died: the scheduler reruns its tasks elsewhere, up to its allowed-failures
        # (KilledWorker past them), but data only it held (what joblib scattered to train a
        # model) is lost with it, and work joblib was handing it in a callback is lost
        # without a word (CallbackLost). Either way the stage stops before writing its
        # outputs.
        raise PipelineError(
            f"a Dask worker died during this stage ({error}) - nothing was written; run the "
            "stage again (running out of memory is the usual cause: give workers more, or "
            "lower train.max_rows)"
        ) from None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def local_cluster() -> LocalCluster:
    """A worker process per core of this machine, on 127.0.0.1 only."""
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        return LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            dashboard_address="127.0.0.1:0",  # this machine only, on a free port
            silence_logs=logging.WARNING,
        )
    except RuntimeError as error:  # "Nanny failed to start": a worker died while starting
        raise PipelineError(
            f"the local Dask cluster could not start its workers ({error}): a worker process "
            "died as it started (killed, or out of memory) - nothing was written; run the "
            "stage again"
        ) from None


def join(address: str) -> Client:
    """A client of the scheduler at address, or PipelineError within Dask's connect timeout.
    Client's own timeout covers reaching the address, not the handshake after it, which
    waits forever on a listener that never answers as Dask does: so the handshake is made
    once here first, under a deadline of its own."""
    seconds = parse_timedelta(dask.config.get(CONNECT_TIMEOUT), default="seconds")
    try:
        asyncio.run(asyncio.wait_for(handshake(address, seconds), seconds))
        return Client(address, timeout=seconds)
    except ValueError as error:  # distributed's parser: not-a-url, a missing port, ...
        reason = f"{error} - give the scheduler's address, like tcp://scheduler.example.com:8786"
    except asyncio.TimeoutError:  # before OSError: on Python 3.11+ it is one
        reason = f"no Dask handshake within {seconds:g} s - is that the scheduler's address?"
    except OSError as error:
        reason = f"{error} - start it, or fix the address"
    raise PipelineError(
        f"cannot use the Dask scheduler at {SCHEDULER_VARIABLE}={address}: {reason}; or unset "
        f"{SCHEDULER_VARIABLE} to run on a local cluster"
    )


async def handshake(address: str, seconds: float) -> None:
    """Connect as a client would and hear the scheduler's handshake, then hang up."""
    comm = await connect(address, timeout=seconds, **Security().get_connection_args("client"))
    await comm.close()
