"""OUT of `make predict`: checked before anything is scored, written beside, swapped in.

The parts are written into a hidden folder beside OUT, which takes OUT's place only once
every part is written: OUT holds one complete run's parts, never a mix of two, and a run
that fails or is killed leaves it as it was (and, killed, its hidden folder behind).
A local OUT is swapped in one step (Linux's renameat2 RENAME_EXCHANGE; where that is
missing, two renames, between which OUT is briefly absent). An object store has no rename:
the parts are copied in while sources.INCOMPLETE sits in OUT, and readers refuse a folder
holding it, so a copy cut short is never read as a whole batch.
"""

import contextlib
import ctypes
import errno
import os
import posixpath
import shutil
import uuid
from fnmatch import fnmatchcase
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .deploy.release import registry_root
from .errors import PipelineError
from .pipeline.sources import INCOMPLETE, find_parts
from .products import outputs

PART_PATTERN = "part-*.parquet"  # what OUT may hold: only an earlier run's parts are replaced
# The project's own data, models and registry: predictions never replace anything there.
PROJECT_FOLDERS = ("data", "models", "registry")
AT_FDCWD, RENAME_EXCHANGE = -100, 2  # <fcntl.h>, <linux/fs.h>


def is_local(location: str) -> bool:
    return isinstance(fsspec.core.url_to_fs(location)[0], LocalFileSystem)


def canonical(location: str) -> str:
    """One spelling per place: a local path resolved (.., symlinks), a URL normalised."""
    fs, path = fsspec.core.url_to_fs(location)
    if isinstance(fs, LocalFileSystem):
        return os.path.realpath(path)
    return fs.unstrip_protocol(path)


def check_out(out: str, data: str) -> None:
    """Refuse an OUT that scoring must not replace, before anything is scored: one in the
    project's data, models or registry or a dvc.yaml output, one holding DATA, a file, or a
    folder holding other files than an earlier run's parts (a folder the user keeps other
    data in)."""
    refuse_project_paths(out)
    fs, path = fsspec.core.url_to_fs(out)
    folder = canonical(out).rstrip("/") + "/"
    for part in find_parts(data):
        if canonical(part.location).startswith(folder):
            raise PipelineError(
                f"OUT {out} holds the data being scored ({part.location}) - write the "
                "predictions to another folder; nothing was changed"
            )
    if not fs.exists(path):
        return
    if not fs.isdir(path):
        raise PipelineError(f"OUT {out} is a file - name a folder for the Parquet parts")
    others = sorted(name for name in names_in(fs, path) if not fnmatchcase(name, PART_PATTERN))
    others = [name for name in others if name != INCOMPLETE]  # a run cut short: replaced
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise PipelineError(
            f"OUT {out} holds files other than {PART_PATTERN} ({shown}) - name a new or empty "
            "folder, or one only an earlier `make predict` wrote to; nothing was changed"
        )


def refuse_project_paths(out: str) -> None:
    """Refuse an OUT in (or holding) data/, models/, the registry or an output of dvc.yaml,
    however spelled: `..`, symlinks and absolute paths are resolved first."""
    if not is_local(out):
        return
    target = Path(canonical(out))
    guarded = {Path(canonical(str(path))): f"{path}, an output of dvc.yaml" for path in outputs()}
    for name in PROJECT_FOLDERS:
        guarded.setdefault(Path(canonical(name)), f"{name}/")
    if is_local(registry_root()):  # MODEL_REGISTRY may name a folder elsewhere
        guarded.setdefault(Path(canonical(registry_root())), f"the registry {registry_root()}")
    for place, what in guarded.items():
        if target == place or place in target.parents:
            relation = "is" if target == place else "is inside"
        elif target in place.parents:
            relation = "holds"
        else:
            continue
        raise PipelineError(
            f"OUT {out} {relation} {what}, which the pipeline and deploy own - write the "
            "predictions to a folder of their own outside data/, models/ and the registry; "
            "nothing was changed"
        )


def names_in(fs: fsspec.AbstractFileSystem, path: str) -> list[str]:
    fs.invalidate_cache(path)  # the workers wrote through filesystems of their own
    entries = fs.ls(path, detail=False)
    return [name for name in (entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries) if name]


def staging(out: str) -> str:
    """A new, hidden folder beside OUT for this run's parts (beside the folder a local
    symlink names, so the swap stays within one filesystem)."""
    fs, path = fsspec.core.url_to_fs(out)
    local = isinstance(fs, LocalFileSystem)
    parent, name = posixpath.split((os.path.realpath(path) if local else path).rstrip("/"))
    staged = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}.partial"
    return staged if local else fs.unstrip_protocol(staged)


def swap_in(staged: str, out: str) -> None:
    """Put the complete parts in `staged` in OUT's place; OUT's old parts go."""
    fs, path = fsspec.core.url_to_fs(out)
    if isinstance(fs, LocalFileSystem):
        swap_folders(fsspec.core.url_to_fs(staged)[1], os.path.realpath(path))
    else:
        copy_in(fs, fsspec.core.url_to_fs(staged)[1], path.rstrip("/"))


def swap_folders(staged: str, target: str) -> None:
    if not os.path.lexists(target):
        Path(staged).rename(target)
    elif exchange(staged, target):
        shutil.rmtree(staged)  # it holds the old parts now
    else:
        old = Path(f"{staged}.old")
        Path(target).rename(old)
        Path(staged).rename(target)
        shutil.rmtree(old)


def exchange(first: str, second: str) -> bool:
    """Swap two paths in one step; False where the system or its filesystem cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # not Linux, or a C library before glibc 2.28
        return False
    paths = (os.fsencode(first), os.fsencode(second))
    if renameat2(AT_FDCWD, paths[0], AT_FDCWD, paths[1], RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), second)


def copy_in(fs: fsspec.AbstractFileSystem, staged: str, target: str) -> None:
    """Replace the parts at an object store's OUT by the staged ones, under INCOMPLETE."""
    marker = f"{target}/{INCOMPLETE}"
    fs.pipe_file(marker, b"make predict was replacing these parts: run it again\n")
    if fs.isdir(target):
        for name in names_in(fs, target):
            if fnmatchcase(name, PART_PATTERN):
                fs.rm_file(f"{target}/{name}")
    for name in sorted(names_in(fs, staged)):
        fs.mv(f"{staged}/{name}", f"{target}/{name}")
    fs.rm_file(marker)
    discard(fs.unstrip_protocol(staged))


def discard(staged: str) -> None:
    """Remove a staged folder (a failed run's parts, or what a copy left); best effort."""
    fs, path = fsspec.core.url_to_fs(staged)
    with contextlib.suppress(OSError):
        fs.rm(path, recursive=True)
