"""Hold the served model and swap in new versions without a pause.

A new version is loaded and checked in a worker thread beside the old one; the swap is one
reference assignment, so a request sees the old model or the new, never a half-loaded one.
A version that fails a check is refused and logged, and the old model keeps serving.
"""

import logging
import threading
import time

from ..deploy.bundle import BundleError, Loaded, load_version
from ..deploy.registry import PRODUCTION, Registry, RegistryError, checked_env, pointer_name
from ..pipeline.derivation import PASS_THROUGH_WITHOUT_DATES
from ..pipeline.derive_step import DeriveMismatch
from .inputs import FeatureSchema

log = logging.getLogger(__name__)
# Failures of the version itself, the same at every try: a checksum, a type outside the
# allow-list, smoke outputs, derive code. Any other (a file missing or unreadable for a
# moment while storage or a copy catches up) is tried again, after 1 s, then twice as
# long each time up to a minute, so that replicas do not stay on different versions.
PERMANENT = (BundleError, DeriveMismatch)
RETRY_FIRST = 1.0
RETRY_LONGEST = 60.0


class Served:
    """A loaded version with the schema its requests are checked against."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.version = loaded.version
        self.schema = FeatureSchema(loaded.manifest["features"])
        # The lean path: the graph that takes the checked number and text blocks as they
        # are, with no DataFrame, when derive.py provably leaves these rows unchanged and
        # the graph's inputs are the schema's columns in its order; else None.
        runner = loaded.runner
        lean = (
            runner is not None
            and loaded.manifest.get("derive_hash") in PASS_THROUGH_WITHOUT_DATES
            and not self.schema.dates
            and runner.numeric == self.schema.numbers.names
            and runner.text == self.schema.texts.names
        )
        self.direct = runner if lean else None


class ModelHolder:
    """The model one environment serves: the version its pointer (CURRENT for production,
    CURRENT.<env> for another) names."""

    def __init__(self, registry: Registry, env: str = PRODUCTION, runtime: str = "auto") -> None:
        self.registry = registry
        self.env = checked_env(env, "DEPLOY_ENV")
        self.runtime = runtime  # SERVE_RUNTIME: auto, onnx or skops
        self.served: Served | None = None
        self.refused: dict | None = None  # version, reason, and whether it is tried again
        self._retry_at = 0.0  # time.monotonic() of the refused version's next try
        self._retry_wait = RETRY_FIRST
        self._lock = threading.Lock()  # one load at a time; readers never wait for it
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def sync(self, retry: bool = False) -> str | None:
        """Load the version the environment's pointer names if it is new, or refused for a
        reason that may pass and due for another try (`retry`: now, whatever the reason);
        return the served version."""
        with self._lock:
            try:
                version = self.registry.current(self.env)
            except RegistryError as error:  # the pointer names no valid version: keep serving
                if not self.refused or self.refused["reason"] != str(error):
                    log.error("refused %s: %s", pointer_name(self.env), error)
                self.refused = {"version": None, "reason": str(error), "retrying": True}
                return self.served.version if self.served else None
            served = self.served.version if self.served else None
            if version and version != served and (retry or self._due(version)):
                self._load(version)
            return self.served.version if self.served else None

    def _due(self, version: str) -> bool:
        if not self.refused or self.refused["version"] != version:
            return True
        return time.monotonic() >= self._retry_at

    def _load(self, version: str) -> None:
        try:
            served = Served(load_version(self.registry, version, self.runtime))
        except Exception as error:  # any failure to load or check refuses the version
            self._refuse(version, error)
            return
        self._swap(served)

    def _refuse(self, version: str, error: Exception) -> None:
        permanent = isinstance(error, PERMANENT)
        again = self.refused is not None and self.refused["version"] == version
        self._retry_wait = min(2 * self._retry_wait, RETRY_LONGEST) if again else RETRY_FIRST
        self._retry_at = float("inf") if permanent else time.monotonic() + self._retry_wait
        self.refused = {"version": version, "reason": str(error), "retrying": not permanent}
        if permanent:
            log.error("refused version %s: %s", version, error)
        else:
            log.error(
                "refused version %s for now: %s - trying again in %g s",
                version,
                error,
                self._retry_wait,
            )

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
            checked[version] = Served(load_version(self.registry, version, self.runtime))

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
