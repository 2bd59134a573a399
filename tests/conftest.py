"""Bake projects from the template into temporary folders."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
OPTIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())


def bake(output_dir: Path, **answers: str) -> Path:
    """Bake a project with these answers (defaults elsewhere) and return its folder."""
    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir)
        )
    )


def run(
    command: str, cwd: Path, check: bool = True, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Run a shell command in a baked project, with the template's own venv out of the way."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL")
    }
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
