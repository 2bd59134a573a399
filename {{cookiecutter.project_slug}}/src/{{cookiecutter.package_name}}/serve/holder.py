"""Hold the served model and swap in new versions without a pause.

A new version is loaded and checked in a worker thread beside the old one; the swap is one
reference assignment, so a request sees the old model or the new, never a half-loaded one.
A version that fails a check is refused and logged, and the old model keeps serving.
"""

import logging
import threading

from ..deploy.bundle import Loaded, load_version
from ..deploy.registry import PRODUCTION, Registry, RegistryError, checked_env, pointer_name
from .inputs import FeatureSchema

log = logging.getLogger(__name__)


class Served:
    """A loaded version with the schema its requests are checked against."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.version = loaded.version
        self.schema = FeatureSchema(loaded.manifest["features"])


class ModelHolder:
    """The model one environment serves: the version its pointer (CURRENT for production,
    CURRENT.<env> for another) names."""

    def __init__(self, registry: Registry, env: str = PRODUCTION) -> None:
        self.registry = registry
        self.env = checked_env(env, "DEPLOY_ENV")
        self.served: Served | None = None
        self.refused: dict | None = None
        self._lock = threading.Lock()  # one load at a time; readers never wait for it
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def sync(self) -> str | None:
        """Load the version the environment's pointer names if it is new; return the served
        version."""
        with self._lock:
            try:
                version = self.registry.current(self.env)
            except RegistryError as error:  # the pointer names no valid version: keep serving
                if not self.refused or self.refused["reason"] != str(error):
                    log.error("refused %s: %s", pointer_name(self.env), error)
                self.refused = {"version": None, "reason": str(error)}
                return self.served.version if self.served else None
            served = self.served.version if self.served else None
            already_refused = self.refused and self.refused["version"] == version
            if version and version != served and not already_refused:
                self._load(version)
            return self.served.version if self.served else None

    def _load(self, version: str) -> None:
        try:
            served = Served(load_version(self.registry, version))
        except Exception as error:  # any failure to load or check refuses the version
            self.refused = {"version": version, "reason": str(error)}
            log.error("refused version %s: %s", version, error)
            return
        self._swap(served)

    def _swap(self, served: Served) -> None:
        self.served = served  # the swap: one reference assignment
        self.refused = None
        log.info("serving version %s", served.version)

    def rollback(self) -> str | None:
        """Point the environment back at the version it served before, as `make rollback`
        does, once that version loads and passes its checks (else the pointer stays and the
        error says why), and serve it."""
        checked: dict[str, Served] = {}

        def check(version: str) -> None:
            checked[version] = Served(load_version(self.registry, version))

        with self._lock:
            version = self.registry.rollback(self.env, check=check)
            if version in checked:
                self._swap(checked[version])
        return self.served.version if self.served else None

    def watch(self, interval: float) -> None:
        """Follow the environment's pointer in a background thread."""

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.sync()
                except Exception:  # a registry hiccup must not stop the watcher
                    log.exception("checking %s failed", self.registry.location)

        self._watcher = threading.Thread(target=loop, name="model-watcher", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
