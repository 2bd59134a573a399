"""Serve DEPLOY_ENV's model over HTTP with uvicorn (`make serve` runs this).

SERVE_WORKERS processes share one port; each loads the model and follows the environment's
pointer on its own. SIGTERM (or Ctrl-C) stops taking connections, answers the requests in
flight (for up to SERVE_DRAIN_TIMEOUT seconds) and exits 0.
"""

import argparse
import os
import re
import resource
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from ..deploy.graph import GRAPH_FILE
from ..deploy.registry import Registry
from .connection import HeadTimeout
from .settings import Settings, variables
from .stopping import DrainingServer, Supervisor

STARTUP_FAILURE = 3  # uvicorn.run's exit code when the app or the port fails to start
APP_FACTORY = f"{__package__}.app:create_app"  # an import string: each worker builds its app
KEEP_ALIVE_SECONDS = 5
MAX_HEAD_BYTES = 16 * 1024
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess mode
# prometheus-client's own files there: <type>_<pid>.db, a gauge's type with its mode
# (gauge_livesum_123.db); any other file in the folder is the user's.
METRICS_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_[0-9]+\.db")
# Idle and half-sent connections each hold a file descriptor until SERVE_READ_TIMEOUT
# closes them: a soft limit of 1,024 (a common default) would stop accepting at about that
# many, health checks included.
OPEN_FILES = 1 << 20


@contextmanager
def metrics_folder(workers: int) -> Iterator[None]:
    """Several workers keep their metrics in files for a scrape to sum: in the folder
    PROMETHEUS_MULTIPROC_DIR names, rid of prometheus-client's files first (values of an
    earlier run would add up), or else in a private temporary folder, removed at the end."""
    given = os.environ.get(METRICS_DIR)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            if METRICS_FILE.fullmatch(stale.name):
                stale.unlink()
        yield
        return
    if workers == 1:  # one process: metrics in memory
        yield
        return
    private = tempfile.mkdtemp(prefix="serve-metrics-")
    os.environ[METRICS_DIR] = private  # the workers inherit it
    try:
        yield
    finally:
        del os.environ[METRICS_DIR]
        shutil.rmtree(private, ignore_errors=True)


def allow_many_connections() -> None:
    """Raise this process's soft limit on open files (inherited by the workers) toward the
    hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def parse_arguments(argv: list[str]) -> None:
    """--help, and no other argument: the settings are environment variables."""
    lines = [f"  {name:<28} {about}" for name, about in variables()]
    parser = argparse.ArgumentParser(
        prog="serve",
        description=__doc__,
        epilog="settings (environment variables):\n" + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)


def check_runtime(settings: Settings) -> None:
    """With SERVE_RUNTIME=onnx, refuse to start on a version that has no ONNX graph."""
    if settings.runtime != "onnx":
        return
    store = Registry(settings.registry, settings.model_name)
    version = store.current(settings.deploy_env)
    if version is None:
        return  # nothing to serve yet: a version without a graph is refused when it comes
    manifest = store.manifest(version)
    if GRAPH_FILE not in manifest.get("sha256", {}):
        why = (manifest.get("graph") or {}).get("skipped", "deployed before graphs were")
        raise SystemExit(
            f"ERROR: SERVE_RUNTIME=onnx, but version {version} has no ONNX graph ({why}) - "
            "unset SERVE_RUNTIME to serve it through scikit-learn"
        )


def main(argv: list[str]) -> None:
    parse_arguments(argv)
    settings = Settings()
    settings.check_model_name()
    settings.check_exposure()
    settings.check_prediction_log()
    settings.check_workers()
    settings.check_other_environments()
    check_runtime(settings)
    allow_many_connections()
    # uvicorn raises the signal it stopped for again once it has drained, which would end
    # the process as killed by it: a handler makes that a no-op, so a stop exits 0.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda signum, frame: None)
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        access_log=False,
        # Idle keep-alive connections close after 5 s; request heads (with the h11 parser)
        # are bounded. A request head must arrive within SERVE_READ_TIMEOUT (the connection
        # is closed), and so must its body (the app answers 408). No limit on connections:
        # uvicorn's (limit_concurrency) counts idle ones too and answers every route 503,
        # health checks included, beyond it; the app bounds requests in flight instead
        # (SERVE_MAX_IN_FLIGHT), and limits per client belong on the ingress.
        http=HeadTimeout,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        # On SIGTERM: no new connections, requests in flight answered for up to this long.
        # uvicorn annotates it int, but hands it to asyncio.wait_for, which takes float.
        timeout_graceful_shutdown=settings.drain_timeout,  # type: ignore[arg-type]
    )
    with metrics_folder(settings.workers):
        if settings.workers > 1:
            Supervisor(config, sockets=[config.bind_socket()]).run()
            return
        server = DrainingServer(config)
        server.run()
        if not server.started:  # the app or the port failed, as uvicorn.run says it
            raise SystemExit(STARTUP_FAILURE)
