"""Slow tier: writers of one registry at the same time (issue 10, item 10).

Two `make deploy` started together publish the model once; two processes publishing at the
same moment get distinct numbers, and `make models` lists every version.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from .conftest import FAST_INSTALL, HIDDEN, bake, run

pytestmark = pytest.mark.slow

# Publish ten copies of the current version, starting at the time given.
PUBLISH = """
import os, sys, time
from my_ml_project.deploy.registry import Registry
store = Registry(os.environ["MODEL_REGISTRY"], sys.argv[1])
source = store.current()
files = {name: store.read(source, name) for name in ("model.skops", "reference_profile.json")}
manifest = store.manifest(source)
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
print(" ".join(store.publish(files, manifest, sys.argv[2]) for _ in range(10)))
"""


def together(commands: list[list[str]], cwd: Path, env: dict) -> list[str]:
    """Start the commands at once; wait for all; return their outputs (each must succeed)."""
    processes = [
        subprocess.Popen(
            c, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for c in commands
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    for command, process, output in zip(commands, processes, outputs, strict=True):
        assert process.returncode == 0, f"{command} exited {process.returncode}:\n{output}"
    return outputs


def test_concurrent_deploys_and_publishes_never_share_a_number(tmp_path: Path) -> None:
    root = bake(tmp_path)
    run("make install && make repro", root)
    registry = root / "registry"
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN} | FAST_INSTALL
    env["MODEL_REGISTRY"] = str(registry)

    # The same model deployed twice at once: one publishes, the other waits and finds it.
    first, second = together([["make", "deploy"], ["make", "deploy"]], root, env)
    deployed = [out for out in (first, second) if "deployed version 0001-" in out]
    unchanged = [out for out in (first, second) if "model unchanged: production already" in out]
    assert len(deployed) == len(unchanged) == 1, f"--- one ---\n{first}\n--- other ---\n{second}"

    # Two writers publishing ten versions each, starting at the same instant.
    model = yaml.safe_load((root / "params.yaml").read_text())["deploy"]["model_name"]
    python = str(root / ".venv" / "bin" / "python")
    start = str(time.time() + 3)
    outputs = together(
        [[python, "-c", PUBLISH, model, commit, start] for commit in ("aaaaaaa", "bbbbbbb")],
        root,
        env,
    )
    published = [version for output in outputs for version in output.split()[-10:]]
    listed = re.findall(
        r"^[* ] (\d{4,}-[0-9a-z-]+)  ", run("make models", root, env=env).stdout, re.M
    )
    numbers = [int(version.split("-")[0]) for version in listed]
    assert numbers == list(range(1, 22)), listed
    assert set(published) <= set(listed) and len(set(published)) == 20, (published, listed)
