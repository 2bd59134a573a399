"""Run in the project's environment, even when `dvc repro` was started outside it."""

import importlib.metadata
import os
import sys
from pathlib import Path

DISTRIBUTION = "{{ cookiecutter.project_slug }}"
RESTARTED = "{{ cookiecutter.package_name | upper }}_RESTARTED"  # set once, so it never loops


def ensure(root: Path) -> None:
    """Return if this Python has the project installed; else restart the command with the
    project's .venv Python, or stop with a line saying how to create it."""
    try:
        importlib.metadata.distribution(DISTRIBUTION)
        return
    except importlib.metadata.PackageNotFoundError:
        pass
    scripts = "Scripts" if os.name == "nt" else "bin"
    executable = "python.exe" if os.name == "nt" else "python"
    # An experiment run with --temp or --queue works in a copy of the project under
    # .dvc/tmp/exps, which has no .venv: DVC names the project itself in DVC_ROOT.
    projects = [root, Path(os.environ.get("DVC_ROOT", root))]
    pythons = [project / ".venv" / scripts / executable for project in projects]
    python = next((python for python in pythons if python.exists()), pythons[0])
    if python.exists() and not os.environ.get(RESTARTED):
        os.environ[RESTARTED] = "1"
        os.execv(python, [str(python), *sys.argv])
    sys.exit(
        f"ERROR: {sys.executable} does not have {DISTRIBUTION} installed - run `make install` "
        "once, then `make repro` (or `source .venv/bin/activate` and `dvc repro`)"
    )
