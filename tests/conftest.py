"""Bake projects from the template into temporary folders."""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
OPTIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
HIDDEN = ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "PYTHONDONTWRITEBYTECODE")
# Test projects compile only the modules they import (lazily, into their own venv) instead
# of all ~8,000 files of their dependencies at install: minutes of CPU over the suite. And
# their `make lint`s share one mypy cache per test process: the typed libraries (FastAPI,
# pydantic, ...) are the same in every bake, so mypy checks only the project's modules again
# (it revalidates each cached module by its source's hash): 3.5 s down to 0.3 s a lint.
MYPY_CACHE = Path(tempfile.mkdtemp(prefix="template-tests-mypy-"))
atexit.register(shutil.rmtree, MYPY_CACHE, True)
FAST_INSTALL = {"UV_COMPILE_BYTECODE": "0", "MYPY_CACHE_DIR": str(MYPY_CACHE)}
# A baked project's server tests (real servers, real timeouts) are most of its TESTS=all
# time. Where a test runs CI's steps (TESTS=all) on code that a full `make ci TESTS=all` of
# the same answers already tested in this suite (the same bake under a CI runner), they are
# left out; lint, the other tests and the pipeline still run. Coverage is off there too:
# without the server tests it is under the project's threshold, and that full run checked
# it. (A plain `make ci` runs the project's own tests alone.)
SERVER_TESTS_RAN_ELSEWHERE = {"PYTEST_ADDOPTS": "--ignore-glob=tests/test_serve*.py --no-cov"}


def bake(output_dir: Path, **answers: str) -> Path:
    """Bake a project with these answers (defaults elsewhere) and return its folder."""
    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir)
        )
    )


def documentation(project: Path) -> str:
    """The README and every docs page of a bake, each run of whitespace one space."""
    pages = [project / "README.md", *sorted((project / "docs").glob("*.md"))]
    return " ".join(" ".join(page.read_text().split()) for page in pages)


def run(
    command: str, cwd: Path, check: bool = True, timeout: int = 900, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run a shell command in a baked project, with the template's own venv out of the way."""
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN} | FAST_INSTALL | (env or {})
    result = subprocess.run(
        command, cwd=cwd, shell=True, text=True, capture_output=True, env=env, timeout=timeout
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"`{command}` exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


@pytest.fixture(scope="session")
def bakery(tmp_path_factory: pytest.TempPathFactory):
    """Bake each combination once per session; tests must not modify what they get."""
    baked: dict[str, Path] = {}

    def get(**answers: str) -> Path:
        key = json.dumps(answers, sort_keys=True)
        if key not in baked:
            baked[key] = bake(tmp_path_factory.mktemp("bake"), **answers)
        return baked[key]

    return get


def tool(path: Path, what: str, install: str = "make install") -> Path:
    """A test tool installed by `install` (`make install`; .ci/run installs the Debian
    packages); missing, skip here but fail in CI."""
    if not path.exists():
        message = f"{path.name} is not installed ({what}) - run `{install}`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(
    command: list[str], port: int, log: Path, cwd: Path | None = None, env: dict | None = None
):
    """Run a server in its own process group until the block ends; wait for its port."""
    with log.open("w") as out:  # a file, not a pipe nobody drains
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    pytest.fail(f"{command[0]} exited {process.returncode}: {log.read_text()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"{command[0]} did not listen on {port}: {log.read_text()}")
                    time.sleep(0.2)
            yield process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
