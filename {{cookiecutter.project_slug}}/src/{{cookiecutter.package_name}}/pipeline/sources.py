"""Where a table's rows live: a bundled dataset, or Parquet or CSV files found by path,
folder, glob or fsspec URL (s3://, gs://, az://, ...), each file one part of the table."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow.parquet as pq

from ..errors import PipelineError, UnusableInput

# Datasets that ship inside scikit-learn (so the default pipeline needs no download), with
# the loader's keyword arguments.
BUNDLED: dict[str, dict] = {
    "breast_cancer": {},
    "diabetes": {"scaled": False},
    "iris": {},
    "wine": {},
}
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
GLOB_CHARACTERS = "*?["
# Left in a folder of parts while they are replaced where no rename is atomic (an object
# store: scoring.py's output): a folder holding it is a mix of two runs' parts.
INCOMPLETE = "_INCOMPLETE"


@dataclass(frozen=True)
class Part:
    """One file of a table (or a bundled dataset), read whole or in chunks of rows."""

    location: str  # a local path or an fsspec URL
    kind: str  # "csv", "parquet" or "bundled"

    def read(self) -> pd.DataFrame:
        if self.kind == "bundled":
            return bundled(self.location)
        try:
            if self.kind == "csv":
                frame = pd.read_csv(self.location)
            else:
                frame = pd.read_parquet(self.location)
        except FileNotFoundError as error:
            raise PipelineError(f"{self.location} does not exist") from error
        except (OSError, ValueError, ImportError) as error:
            raise unreadable(self.location, error) from error
        return with_string_names(frame)

    def chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        """The part's rows, at most `rows` at a time, for memory bounded by the chunk."""
        if self.kind == "bundled":
            yield self.read()
            return
        try:
            with fsspec.open(self.location, "rb") as file:
                if self.kind == "csv":
                    for chunk in pd.read_csv(file, chunksize=rows):
                        yield with_string_names(chunk)
                else:
                    for batch in pq.ParquetFile(file).iter_batches(batch_size=rows):
                        yield with_string_names(batch.to_pandas())
        except (OSError, ValueError) as error:  # empty, ragged or truncated: pandas', pyarrow's
            raise unreadable(self.location, error) from error

    def meta(self) -> pd.DataFrame:
        """An empty frame with the part's columns and types."""
        if self.kind == "bundled":
            return self.read().iloc[:0]
        try:
            with fsspec.open(self.location, "rb") as file:
                if self.kind == "parquet":
                    return with_string_names(pq.read_schema(file).empty_table().to_pandas())
                return with_string_names(pd.read_csv(file, nrows=1000).iloc[:0])
        except (OSError, ValueError) as error:
            raise unreadable(self.location, error) from error


def unreadable(location: str, error: BaseException) -> UnusableInput:
    """One line for data the readers cannot parse (empty, ragged, truncated), with their
    reason: the first line of the innermost cause (dask wraps pandas' and pyarrow's)."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = str(error).strip().splitlines()
    return UnusableInput(f"cannot read {location}: {lines[0] if lines else repr(error)}")


def with_string_names(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [str(column) for column in frame.columns]
    return frame


def bundled(source: str) -> pd.DataFrame:
    name = source.removeprefix("sklearn:")
    # Imported here: scikit-learn costs every stage process a second or more to import.
    from sklearn import datasets

    frame = getattr(datasets, f"load_{name}")(as_frame=True, **BUNDLED[name]).frame
    return with_string_names(frame)


def find_parts(source: str) -> list[Part]:
    """The files a source names, in sorted order; PipelineError says why there are none."""
    if source.startswith("sklearn:"):
        if source.removeprefix("sklearn:") not in BUNDLED:
            raise PipelineError(
                f"{source!r} names no bundled dataset - "
                f"use one of {', '.join('sklearn:' + key for key in BUNDLED)}"
            )
        return [Part(source, "bundled")]
    try:
        fs, path = fsspec.core.url_to_fs(source)
        if any(character in path for character in GLOB_CHARACTERS):
            found = sorted(fs.glob(path))
        elif fs.isdir(path):
            refuse_incomplete(source, fs, path)
            found = sorted(name for name in fs.find(path) if not hidden(name, path))
            refuse_hive_folders(source, found, path)
        elif fs.exists(path):
            found = [path]
        else:
            found = []
    except ImportError as error:
        raise PipelineError(f"cannot read {source!r}: {error}") from error
    if not found:
        raise PipelineError(
            f"{source!r} does not exist or matches no file - check the path (relative paths "
            "start at the project root), or run `dvc pull` for DVC-tracked data"
        )
    kinds = {FORMATS.get(Path(name).suffix.lower()) for name in found}
    kind = kinds.pop() if len(kinds) == 1 else None  # None: an unknown kind, or several
    if kind is None:
        odd = sorted({Path(name).suffix or "(none)" for name in found})
        raise PipelineError(
            f"{source!r} holds files of type(s) {', '.join(odd)} - point it at .csv files or "
            f"at Parquet files ({', '.join(FORMATS)}), one kind at a time"
        )
    local = isinstance(fs, fsspec.implementations.local.LocalFileSystem)
    return [Part(name if local else fs.unstrip_protocol(name), kind) for name in found]


def refuse_incomplete(source: str, fs: fsspec.AbstractFileSystem, path: str) -> None:
    """A folder whose parts were being replaced when the writer stopped is no dataset."""
    if fs.exists(f"{path.rstrip('/')}/{INCOMPLETE}"):
        raise UnusableInput(
            f"{source} holds {INCOMPLETE}: a `make predict` stopped while replacing its parts, "
            "so they mix two runs - run that `make predict` again"
        )


def refuse_hive_folders(source: str, found: list[str], root: str) -> None:
    """Folders named key=value (Hive partitioning) hold a column in their names, which a
    file read alone loses: refuse them rather than drop the column on one engine only."""
    for name in found:
        relative = Path(name).relative_to(root) if name.startswith(root) else Path(name)
        keyed = [piece for piece in relative.parts[:-1] if "=" in piece]
        if keyed:
            raise PipelineError(
                f"{source!r} is partitioned into key=value folders ({keyed[0]}/...): their "
                "names hold a column the files lack - write that column into the files and "
                "keep them in plain folders"
            )


def hidden(name: str, root: str) -> bool:
    """Files of a dataset folder that hold no rows: _SUCCESS, _metadata, .crc, ..."""
    relative = Path(name).relative_to(root) if name.startswith(root) else Path(name)
    return any(piece.startswith(("_", ".")) for piece in relative.parts)


def write_part(frame: pd.DataFrame, location: str) -> None:
    """Write one Parquet file without the index, so equal data gives equal bytes."""
    if "://" not in location:
        Path(location).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(location, index=False)
