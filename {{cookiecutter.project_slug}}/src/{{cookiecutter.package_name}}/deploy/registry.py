"""A versioned model registry in a folder or at any fsspec URL (s3://, az://, gs://).

    <root>/<model>/versions/<version>/   model.skops, manifest.json, reference_profile.json
    <root>/<model>/CURRENT               the version being served

A version is complete once its manifest exists: publishing writes the manifest last, and
promoting replaces CURRENT in one step, so a crash at any point leaves CURRENT naming a
complete version.
"""

import json
import re
import uuid
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ..errors import PipelineError

MANIFEST = "manifest.json"
VERSION = re.compile(r"^(\d{4,})-([0-9a-z]+(?:-dirty)?)$")  # number, commit, -dirty


class RegistryError(PipelineError):
    """The registry cannot do what was asked; the message says why."""


class Registry:
    """The versions of one model in one registry."""

    def __init__(self, root: str, model: str) -> None:
        self.fs, base = fsspec.core.url_to_fs(root)
        self.location = f"{root.rstrip('/')}/{model}"
        self.base = f"{base.rstrip('/')}/{model}"
        self.model = model

    def _path(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def _numbered(self) -> dict[int, str]:
        """Every version folder, complete or not, by its publish number."""
        try:
            entries = self.fs.ls(self._path("versions"), detail=False)
        except FileNotFoundError:
            return {}
        names = (entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries)
        return {int(match.group(1)): name for name in names if (match := VERSION.match(name))}

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
            return self.fs.cat_file(self._path("CURRENT")).decode().strip() or None
        except FileNotFoundError:
            return None

    def manifest(self, version: str) -> dict:
        return json.loads(self.read(version, MANIFEST))

    def read(self, version: str, name: str) -> bytes:
        try:
            return self.fs.cat_file(self._path("versions", version, name))
        except FileNotFoundError as error:
            raise RegistryError(f"{self.location}: version {version} has no {name}") from error

    def publish(self, files: dict[str, bytes], manifest: dict, commit: str) -> str:
        """Store a new version: its files first, the manifest last. Returns the version."""
        # Numbers of incomplete versions are skipped too, so a name is never reused.
        version = f"{max(self._numbered(), default=0) + 1:04d}-{commit}"
        self.fs.makedirs(self._path("versions", version), exist_ok=True)
        for name, data in files.items():
            self.fs.pipe_file(self._path("versions", version, name), data)
        manifest = {**manifest, "version": version, "name": self.model}
        document = json.dumps(manifest, indent=2).encode()
        self.fs.pipe_file(self._path("versions", version, MANIFEST), document)
        return version

    def promote(self, version: str) -> None:
        """Point CURRENT at a complete version in one atomic step."""
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
