"""Tables in partitions, one at a time: the local engine (pipeline/engine.py picks it).

A stage writes its work as functions of one partition (a pandas DataFrame) and its number;
`Table.map` chains them lazily and `Table.summarise` collects one small result per
partition. Here partitions are read and processed one after another in this process, so
memory holds one partition at a time; dask_tables.py runs the same functions on a cluster.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pandas as pd

from .sources import find_parts, write_part


class Table:
    """Partitions (pandas DataFrames) produced on demand, each with its 0-based number."""

    def __init__(self, frames: Callable[[], Iterable[pd.DataFrame]], meta: pd.DataFrame):
        self._frames = frames
        self.meta = meta  # an empty frame with the columns and their types

    @property
    def columns(self) -> list[str]:
        return [str(name) for name in self.meta.columns]

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter(self._frames())

    def map(self, fn: Callable[..., pd.DataFrame], *args: Any) -> "Table":
        """fn(partition, number, *args) for each partition, applied when it is read."""
        source = self._frames

        def frames() -> Iterator[pd.DataFrame]:
            for number, frame in enumerate(source()):
                yield fn(frame, number, *args)

        return Table(frames, fn(self.meta.iloc[:0], 0, *args))

    def summarise(self, fn: Callable[..., Any], *args: Any) -> list:
        """[fn(partition, number, *args) for each partition]: small results only."""
        return [fn(frame, number, *args) for number, frame in enumerate(self)]

    def to_pandas(self) -> pd.DataFrame:
        """The whole table as one frame (bounded data only: a sample, a training set)."""
        frames = list(self)
        if len(frames) == 1:
            return frames[0].reset_index(drop=True)
        return pd.concat(frames, ignore_index=True) if frames else self.meta.iloc[:0]

    def write(self, path: Path | str) -> int:
        """One Parquet file, the form the pipeline's stages pass on; returns its rows."""
        frame = self.to_pandas()
        write_part(frame, str(path))
        return len(frame)

    def write_parts(self, folder: Path | str) -> int:
        """part-00000.parquet, ... in folder (a path or URL), a partition at a time."""
        rows = 0
        for number, frame in enumerate(self):
            write_part(frame, part_name(folder, number))
            rows += len(frame)
        return rows


def part_name(folder: Path | str, number: int) -> str:
    """Zero-padded, so that sorted names are partition order."""
    return f"{str(folder).rstrip('/')}/part-{number:05d}.parquet"


def open_table(source: str | Path, chunk_rows: int | None = None) -> Table:
    """The table a file, folder, glob or URL holds (see sources.py): a partition per file,
    or per chunk_rows rows of each file when chunk_rows is given."""
    parts = find_parts(str(source))

    def frames() -> Iterator[pd.DataFrame]:
        for part in parts:
            if chunk_rows:
                yield from part.chunks(chunk_rows)
            else:
                yield part.read()

    return Table(frames, parts[0].meta())


def from_frame(frame: pd.DataFrame) -> Table:
    """One partition holding a frame already in memory."""
    return Table(lambda: [frame], frame.iloc[:0])


def running() -> nullcontext:
    """Nothing to start: the local engine computes in this process."""
    return nullcontext()
