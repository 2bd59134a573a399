"""A versioned model registry in a folder or at any fsspec URL (s3://, az://, gs://).

    <root>/<model>/versions/<version>/   model.skops, manifest.json, reference_profile.json,
                                         card.md, ...
    <root>/<model>/CURRENT               the version production serves
    <root>/<model>/CURRENT.<env>         the version environment <env> serves (CURRENT.staging)

A pointer's first line names the version the environment serves; the lines after a
HISTORY_MARK line name the versions it served before, newest first (HISTORY_LENGTH of
them), so a rollback returns to what that environment served, not to whatever was
published before. A pointer of one line (written before environments existed) has no
history: rolling it back takes the version published before.

    0003-1a2b3c4
    # served before, newest first:
    0001-9f8e7d6

A version is complete once its manifest exists: publishing writes the manifest last, and
promoting replaces a pointer in one step, so a crash at any point leaves it naming a
complete version.

Version ids are checked against VERSION, and environment names against ENVIRONMENT,
wherever they are read (pointers, arguments, DEPLOY_ENV), so a name like `../..` never
becomes a path. Writers take a lock: in a local folder an exclusive file lock on
<model>/.lock, held by a whole deploy, promotion or rollback, so two at once run one after
the other and never take the same number. Object stores have no such lock: keep one
writer at a time there (CI's deploy job runs in one concurrency group).
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import stat
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ..errors import PipelineError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LOCK = ".lock"
VERSION = re.compile(r"([0-9]{4,})-([0-9a-z]+(?:-dirty)?)")  # number, commit, -dirty
ENVIRONMENT = re.compile(r"[a-z][a-z0-9-]{0,30}")
PRODUCTION = "production"
POINTER = "CURRENT"
HISTORY_MARK = "# served before, newest first:"
HISTORY_LENGTH = 20
POINTER_BYTES = 64 * 1024  # a pointer and its history take under 1 KB; more is not one


class RegistryError(PipelineError):
    """The registry cannot do what was asked; the message says why."""


def checked(version: object, where: str) -> str:
    """The version id itself if it has the form of one, else a RegistryError naming where
    it came from: an id is only ever a folder name, never a path."""
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise RegistryError(f"{where}: {version!r} is not a version id (like 0003-1a2b3c4)")
    return version


def checked_env(env: object, where: str) -> str:
    """The environment name itself if it has the form of one (like staging), else a
    RegistryError naming where it came from: a name is only ever part of a file name."""
    if not isinstance(env, str) or not ENVIRONMENT.fullmatch(env):
        raise RegistryError(
            f"{where}: {env!r} is not an environment name (lowercase letters, digits and -, "
            "starting with a letter, like staging)"
        )
    return env


def pointer_name(env: str) -> str:
    """The file naming the version an environment serves: CURRENT for production (as
    before environments existed), CURRENT.<env> for the others."""
    return POINTER if checked_env(env, "environment") == PRODUCTION else f"{POINTER}.{env}"


def read_regular_file(path: str, limit: int, where: str) -> bytes:
    """At most `limit` bytes of a local regular file, opened without blocking (a FIFO would
    wait for a writer) and checked before reading: anything else is a RegistryError."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise RegistryError(
                f"the pointer {where} is {kind} - remove it; `make promote` or `make rollback` "
                "then writes it anew"
            )
        return os.read(descriptor, limit)
    finally:
        os.close(descriptor)


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

    def current(self, env: str = PRODUCTION) -> str | None:
        """The version the environment serves, or None before its first promotion (from
        the pointer's first line only: a server never depends on the history)."""
        return self._pointer(env, with_history=False)[0]

    def _pointer(self, env: str, with_history: bool = True) -> tuple[str | None, list[str] | None]:
        """The version an environment's pointer names and the versions it served before,
        newest first; None for the history of a one-line pointer, which has none."""
        name = pointer_name(env)
        where = f"{self.location}/{name}"
        document = self._read_pointer(name, where)
        if document is None:
            return None, []
        lines = document.decode(errors="replace").splitlines()
        named = lines[0].strip() if lines else ""
        current = checked(named, where) if named else None
        if not with_history or len(lines) < 2 or lines[1].strip() != HISTORY_MARK:
            return current, None
        return current, [checked(line.strip(), where) for line in lines[2:] if line.strip()]

    def _read_pointer(self, name: str, where: str) -> bytes | None:
        """A pointer's bytes, None when there is none. Only a regular file of at most
        POINTER_BYTES is one: a folder, a FIFO (whose read would wait forever) or a file of
        megabytes (read on every poll of every server) is refused, as is an unreadable one."""
        path = self._path(name)
        try:
            if isinstance(self.fs, LocalFileSystem):
                data = read_regular_file(path, POINTER_BYTES + 1, where)
            else:
                data = self.fs.cat_file(path, start=0, end=POINTER_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as error:  # no permission, a folder on an object store, ...
            raise RegistryError(
                f"cannot read the pointer {where}: {error.strerror or error} - replace it with "
                "`make promote` or `make rollback`"
            ) from None
        if len(data) > POINTER_BYTES:
            raise RegistryError(
                f"the pointer {where} is larger than {POINTER_BYTES // 1024} KB, so not a "
                "pointer - replace it with `make promote` or `make rollback`"
            )
        return data

    def _point(self, env: str, version: str, history: list[str] | None) -> None:
        """Replace an environment's pointer in one atomic step."""
        lines = [version]
        if history is not None:
            lines += [HISTORY_MARK, *history[:HISTORY_LENGTH]]
        document = "".join(f"{line}\n" for line in lines).encode()
        target = self._path(pointer_name(env))
        if isinstance(self.fs, LocalFileSystem):
            # Write beside it, then rename: readers see the old pointer or the new, never half.
            temporary = f"{target}.{uuid.uuid4().hex}.tmp"
            self.fs.pipe_file(temporary, document)
            try:
                Path(temporary).replace(target)
            except IsADirectoryError:  # a folder where the pointer goes: say so, leave it
                Path(temporary).unlink()
                raise RegistryError(
                    f"the pointer {self.location}/{pointer_name(env)} is a folder - remove it, "
                    "then run this again"
                ) from None
        else:
            self.fs.pipe_file(target, document)  # one PUT is atomic on object stores

    def environments(self) -> dict[str, str | None]:
        """The version each environment serves: production first (None when it serves
        nothing yet, or when its pointer is unreadable, which is logged), then the others
        that have a pointer, by name."""
        try:
            names = [e.rstrip("/").rsplit("/", 1)[-1] for e in self.fs.ls(self.base, detail=False)]
        except FileNotFoundError:
            names = []
        others = sorted(
            name.removeprefix(f"{POINTER}.")
            for name in names
            if name.startswith(f"{POINTER}.")
            and ENVIRONMENT.fullmatch(name.removeprefix(f"{POINTER}."))
            and name != f"{POINTER}.{PRODUCTION}"
        )
        served = {}
        for env in (PRODUCTION, *others):
            try:
                served[env] = self.current(env)
            except RegistryError as error:
                log.warning("%s", error)
                served[env] = None
        return served

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

    def where(self, version: str, name: str) -> str:
        """Where a version's file is, as a person would open it (a path or a URL)."""
        return f"{self.location}/versions/{checked(version, self.location)}/{name}"

    def read(self, version: str, name: str) -> bytes:
        checked(version, self.location)
        try:
            return self.fs.cat_file(self._path("versions", version, name))
        except FileNotFoundError as error:
            raise RegistryError(f"{self.location}: version {version} has no {name}") from error

    def publish(
        self,
        files: dict[str, bytes],
        manifest: dict,
        commit: str,
        described: Callable[[dict], dict[str, bytes]] | None = None,
    ) -> str:
        """Store a new version: its files first, the manifest last. Returns the version.

        `described(manifest)`, when given, makes more files from the manifest as stored
        (its version id and name are known only once the version is claimed, here): they
        are written with the others and checksummed in the manifest like them."""
        with self.lock():
            version = self._claim(commit)
            self._write(version, files, manifest, described)
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

    def _write(
        self,
        version: str,
        files: dict[str, bytes],
        manifest: dict,
        described: Callable[[dict], dict[str, bytes]] | None = None,
    ) -> None:
        manifest = {**manifest, "version": version, "name": self.model}
        if described is not None:
            try:
                more = described(manifest)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):  # an object store has no folder
                    self.fs.rm(self._path("versions", version), recursive=True)  # still empty
                raise
            if clash := set(more) & {*files, MANIFEST}:
                raise RegistryError(f"described files would replace {sorted(clash)}")
            checksums = {name: hashlib.sha256(data).hexdigest() for name, data in more.items()}
            files = {**files, **more}
            manifest["sha256"] = {**manifest.get("sha256", {}), **checksums}
        for name, data in files.items():
            self.fs.pipe_file(self._path("versions", version, name), data)
        document = json.dumps(manifest, indent=2).encode()
        self.fs.pipe_file(self._path("versions", version, MANIFEST), document)

    def promote(self, version: str, env: str = PRODUCTION) -> None:
        """Point an environment at a complete version in one atomic step; the version it
        served goes to the top of its history."""
        checked(version, self.location)
        checked_env(env, "environment")
        with self.lock():
            current, history = self._replaceable_pointer(env)
            if version == current:
                return
            self._require(version)
            earlier = [current] if current else []
            self._point(env, version, [*earlier, *(history or [])])

    def _replaceable_pointer(self, env: str) -> tuple[str | None, list[str] | None]:
        """The pointer as _pointer reads it; an unreadable one (a hand-edited line that
        names no version) is logged and replaced whole, so promoting repairs it."""
        try:
            return self._pointer(env)
        except RegistryError as error:
            log.warning("%s - replacing it, without its history", error)
            return None, []

    def _require(self, version: str) -> None:
        if version not in self.versions():
            raise RegistryError(f"{self.location}: there is no complete version {version}")

    def previous(self, env: str = PRODUCTION) -> str:
        """The version the environment served before its current one (for a one-line
        pointer, which has no history, the version published before)."""
        current, history = self._pointer(env)
        if current is None:
            raise RegistryError(
                f"{self.location}: {env} serves no version yet, nothing to roll back"
            )
        if history is None:
            versions = self.versions()
            if current in versions and versions.index(current) > 0:
                return versions[versions.index(current) - 1]
        elif history:
            return history[0]
        raise RegistryError(
            f"{self.location}: {env} served no version before {current} to roll back to"
        )

    def rollback(
        self,
        env: str = PRODUCTION,
        version: str | None = None,
        check: Callable[[str], object] | None = None,
    ) -> str:
        """Point an environment back at the version it served before (or at the version
        named), dropping the newer ones from its history, so a second rollback goes further
        back. `check(version)`, when given, runs before the pointer moves and refuses by
        raising. Returns the version it now serves."""
        checked_env(env, "environment")
        if version is not None:
            checked(version, "rollback")
        with self.lock():
            current, history = (
                self._pointer(env) if version is None else self._replaceable_pointer(env)
            )
            target = version or self.previous(env)
            if target == current:
                return target
            self._require(target)
            if check is not None:
                check(target)
            if history and target in history:
                history = history[history.index(target) + 1 :]
            elif version is not None:  # a version it did not serve (recently): like a promotion
                history = [current, *(history or [])] if current else history
            self._point(env, target, history)
        return target
