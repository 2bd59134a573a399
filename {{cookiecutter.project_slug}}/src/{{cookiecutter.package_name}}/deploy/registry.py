"""A versioned model registry in a folder or at any fsspec URL (s3://, az://, gs://).

    <root>/<model>/versions/<version>/   model.skops, manifest.json, reference_profile.json
    <root>/<model>/CURRENT               the version being served

A version is complete once its manifest exists: publishing writes the manifest last, and
promoting replaces CURRENT in one step, so a crash at any point leaves CURRENT naming a
complete version.

Version ids are checked against VERSION wherever they are read (CURRENT, arguments), so a
name like `../..` never becomes a path. Writers take a lock: in a local folder an exclusive
file lock on <model>/.lock, held by a whole deploy or rollback, so two at once run one
after the other and never take the same number. Object stores have no such lock: keep one
writer at a time there (CI's deploy job runs in one concurrency group).
"""

import fcntl
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ..errors import PipelineError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LOCK = ".lock"
VERSION = re.compile(r"([0-9]{4,})-([0-9a-z]+(?:-dirty)?)")  # number, commit, -dirty


class RegistryError(PipelineError):
    """The registry cannot do what was asked; the message says why."""


def checked(version: object, where: str) -> str:
    """The version id itself if it has the form of one, else a RegistryError naming where
    it came from: an id is only ever a folder name, never a path."""
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise RegistryError(f"{where}: {version!r} is not a version id (like 0003-1a2b3c4)")
    return version


class Registry:
    """The versions of one model in one registry."""

    def __init__(self, root: str, model: str) -> None:
        self.fs, base = fsspec.core.url_to_fs(root)
        self.location = f"{root.rstrip('/')}/{model}"
        self.base = f"{base.rstrip('/')}/{model}"
        self.model = model
        self._held = 0  # lock() is re-entrant: deploy holds it around publish and promote
        self._threads = threading.RLock()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Be the only writer: an exclusive file lock in a local folder (waiting for another
        deploy or rollback to finish); nothing on object stores, where one writer at a time
        is the rule."""
        with self._threads, ExitStack() as stack:
            if not self._held and isinstance(self.fs, LocalFileSystem):
                stack.enter_context(self._file_lock())
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.fs.makedirs(self.base, exist_ok=True)
        with Path(self._path(LOCK)).open("a") as handle:  # closing it releases the lock
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("waiting for another deploy or rollback of %s", self.location)
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _path(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def _numbered(self) -> dict[int, str]:
        """Every version folder, complete or not, by its publish number."""
        try:
            entries = self.fs.ls(self._path("versions"), detail=False)
        except FileNotFoundError:
            return {}
        names = (entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries)
        return {int(match.group(1)): name for name in names if (match := VERSION.fullmatch(name))}

    def versions(self) -> list[str]:
        """Complete versions, oldest first."""
        numbered = self._numbered()
        return [
            numbered[number]
            for number in sorted(numbered)
            if self.fs.exists(self._path("versions", numbered[number], MANIFEST))
        ]

    def current(self) -> str | None:
        """The version CURRENT names, or None before the first promotion."""
        try:
            named = self.fs.cat_file(self._path("CURRENT")).decode(errors="replace").strip()
        except FileNotFoundError:
            return None
        return checked(named, f"{self.location}/CURRENT") if named else None

    def manifest(self, version: str) -> dict:
        data = self.read(version, MANIFEST)
        try:
            document = json.loads(data)
        except ValueError as error:  # empty, truncated, not UTF-8
            raise RegistryError(
                f"{self.location}: version {version} has an unreadable {MANIFEST}: {error}"
            ) from None
        if not isinstance(document, dict):
            raise RegistryError(
                f"{self.location}: version {version}'s {MANIFEST} is not a JSON object"
            )
        return document

    def read(self, version: str, name: str) -> bytes:
        checked(version, self.location)
        try:
            return self.fs.cat_file(self._path("versions", version, name))
        except FileNotFoundError as error:
            raise RegistryError(f"{self.location}: version {version} has no {name}") from error

    def publish(self, files: dict[str, bytes], manifest: dict, commit: str) -> str:
        """Store a new version: its files first, the manifest last. Returns the version."""
        with self.lock():
            version = self._claim(commit)
            self._write(version, files, manifest)
        return version

    def _claim(self, commit: str) -> str:
        """Create the next version's folder, with a number no folder has (numbers of
        incomplete versions are skipped too, so a name is never reused)."""
        number = max(self._numbered(), default=0) + 1
        while True:
            version = checked(f"{number:04d}-{commit}", "the new version")
            folder = self._path("versions", version)
            if isinstance(self.fs, LocalFileSystem):
                self.fs.makedirs(self._path("versions"), exist_ok=True)
                try:
                    Path(folder).mkdir()  # exclusive: fails if another writer made it
                    return version
                except FileExistsError:
                    pass
            elif not self.fs.exists(folder):
                self.fs.makedirs(folder, exist_ok=True)  # creates a missing bucket/container
                return version
            number += 1

    def _write(self, version: str, files: dict[str, bytes], manifest: dict) -> None:
        for name, data in files.items():
            self.fs.pipe_file(self._path("versions", version, name), data)
        manifest = {**manifest, "version": version, "name": self.model}
        document = json.dumps(manifest, indent=2).encode()
        self.fs.pipe_file(self._path("versions", version, MANIFEST), document)

    def promote(self, version: str) -> None:
        """Point CURRENT at a complete version in one atomic step."""
        checked(version, self.location)
        with self.lock():
            self._promote(version)

    def _promote(self, version: str) -> None:
        if version not in self.versions():
            raise RegistryError(f"{self.location}: there is no complete version {version}")
        target = self._path("CURRENT")
        if isinstance(self.fs, LocalFileSystem):
            # Write beside it, then rename: readers see the old name or the new, never half.
            temporary = f"{target}.{uuid.uuid4().hex}.tmp"
            self.fs.pipe_file(temporary, f"{version}\n".encode())
            Path(temporary).replace(target)
        else:
            self.fs.pipe_file(target, f"{version}\n".encode())  # one PUT is atomic on object stores

    def previous(self) -> str:
        """The version published before the current one."""
        versions, current = self.versions(), self.current()
        if current not in versions or versions.index(current) == 0:
            raise RegistryError(
                f"{self.location}: no version before {current or 'none'} to roll back to"
            )
        return versions[versions.index(current) - 1]
