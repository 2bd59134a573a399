"""Slow tier: a real project's first days after the demo, as its user and CI live them.

Their own data `dvc add`ed and pushed, then a clean clone's `make ci`; a renamed model; a
new stage between split and train; edits to serving and monitoring code; `dvc repro`
outside the environment; one core or two. Each journey works on its own copy of one bake.
"""

import json
import os
import shutil
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from .conftest import HIDDEN, bake, free_port, run, server
from .test_generated import ran_stages, write_customers

pytestmark = pytest.mark.slow
PACKAGE = "my_ml_project"


@pytest.fixture(scope="module")
def baked(tmp_path_factory) -> Path:
    """The default bake, installed, its pipeline run and committed."""
    root = bake(tmp_path_factory.mktemp("journeys"))
    run("make install && make repro", root)
    run("git add --all && git commit -qm 'Run the pipeline'", root)
    return root


@pytest.fixture
def project(baked: Path, tmp_path: Path) -> Path:
    """A copy of the bake with its own environment (uv relinks it from its cache: quick)."""
    copy = tmp_path / baked.name
    shutil.copytree(baked, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    run("make install", copy)
    return copy


@contextmanager
def serving(project: Path):
    """`make serve` on a free port, as the user starts it; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    command = ["make", "serve", f"PORT={port}"]
    with server(command, port, project / "serve.log", cwd=project, env=env):
        yield f"http://127.0.0.1:{port}"


def call(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def edit_params(project: Path, change) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    change(params)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_own_data_pushed_passes_ci_in_a_clean_clone_and_fails_clearly_without_it(
    project: Path,
) -> None:
    """`make inputs` pulls the dvc-added data; with the remote gone it names remote and file."""
    write_customers(project / "data/external/customers.csv")
    run(".venv/bin/dvc add -q data/external/customers.csv", project)

    def own_data(params: dict) -> None:
        params["data"] = {"source": "data/external/customers.csv", "target": "churned"}
        params["deploy"].update(metric="accuracy", threshold=0.8)

    edit_params(project, own_data)
    run("make repro && make push", project)
    run("git add --all && git commit -qm 'Train on customers.csv'", project)

    clone = project.with_name("clone")  # beside the project, so ../<slug>-dvc-storage is found
    run(f"git clone -q {project} {clone}", project.parent)
    result = run("make install && make ci", clone)
    assert "fetched 1 DVC-tracked input(s)" in result.stdout
    assert "dvc.lock is unchanged" in result.stdout and "deploy check passed" in result.stdout

    storage = project.parent / f"{project.name}-dvc-storage"
    shutil.rmtree(storage)
    orphan = project.with_name("orphan")
    run(f"git clone -q {project} {orphan}", project.parent)
    # The steps of make ci from inputs on: its lint and tests passed in the clone above.
    failed = run("make install && make inputs repro", orphan, check=False)
    assert failed.returncode != 0
    assert "ERROR: cannot get data/external/customers.csv from the DVC remote 'storage'" in (
        failed.stderr
    ), failed.stderr
    assert "Running stage" not in failed.stdout, "the pipeline ran without its data"


def test_renamed_model_deploys_and_serves(project: Path) -> None:
    """deploy.model_name is read by deploy, the deploy check and the server's default."""
    edit_params(project, lambda params: params["deploy"].update(model_name="churn-model"))
    result = run("make deploy-check && make deploy", project)
    assert "deploy check passed" in result.stdout
    assert (project / "registry/churn-model/CURRENT").exists()
    with serving(project) as base:
        assert call(f"{base}/health/ready")["status"] == "ready"


SELECT_STAGE = '''"""Stage select: keep the first select.max_features feature columns by name."""

import argparse
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, Field

from ..params import Params, load_params
from ..pipeline.data import read_table, write_table


class SelectParams(BaseModel):
    max_features: int = Field(default=10, ge=1)


def select(frame: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The target and the first max_features other columns."""
    settings = params.section("select", SelectParams)
    target = params.data.target
    kept = sorted(column for column in frame.columns if column != target)
    return frame[[*kept[: settings.max_features], target]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="select", description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    write_table(select(read_table(args.data), load_params()), args.out)
'''

SELECT_BLOCK = {
    "cmd": "python3 ${pkg} select --data ${paths.train} --out ${paths.selected}",
    "deps": ["${pkg}/stages/select.py", "${pkg}/pipeline/data.py", "${paths.train}"],
    "params": ["data.target", "select"],
    "outs": ["${paths.selected}"],
}


def add_select_stage(project: Path) -> None:
    """One module, one dvc.yaml block between split and train, one params section."""
    (project / f"src/{PACKAGE}/stages/select.py").write_text(SELECT_STAGE)
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text())
    pipeline["vars"][1]["paths"]["selected"] = "data/processed/train_selected.parquet"
    stages = {}
    for name, stage in pipeline["stages"].items():
        if name == "train":  # the one block after it changes: train reads what select wrote
            stages["select"] = SELECT_BLOCK
            stage["cmd"] = stage["cmd"].replace("${paths.train}", "${paths.selected}")
            stage["deps"] = [
                d.replace("${paths.train}", "${paths.selected}") for d in stage["deps"]
            ]
        stages[name] = stage
    pipeline["stages"] = stages
    (project / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    edit_params(project, lambda params: params.update(select={"max_features": 10}))


def test_a_new_stage_is_one_module_one_block_and_a_params_section(project: Path) -> None:
    """The model, its manifest, its profile and /predict follow the columns select keeps."""
    add_select_stage(project)
    output = run("make repro", project).stdout
    assert ran_stages(output) == {"select", "train", "evaluate", "profile"}, output
    run("git add --all && git commit -qm 'Add a select stage'", project)
    # Below, the server is started on the model the new stage shaped.
    result = run("make ci && make deploy", project)
    assert "dvc.lock is unchanged" in result.stdout and "deploy check passed" in result.stdout
    # The stage dropped columns clients would send from data.source: deploy says so.
    assert "data.source has column(s) the model does not take" in result.stderr

    manifest = json.loads(next(project.glob("registry/*/versions/*/manifest.json")).read_text())
    kept = [feature["name"] for feature in manifest["features"]]
    assert len(kept) == 10 and kept == sorted(kept)
    profile = json.loads((project / "models/reference_profile.json").read_text())
    assert sorted(profile["features"]) == kept
    assert set(manifest["smoke"]["rows"][0]) == set(kept)
    with serving(project) as base:
        answer = call(f"{base}/predict", {"records": manifest["smoke"]["rows"][:2]})
    assert len(answer["predictions"]) == 2


def test_serving_monitoring_and_deploy_edits_leave_the_pipeline_current(project: Path) -> None:
    """Code that only the server, the monitor or deploy use is no stage's dependency."""
    package = project / "src" / PACKAGE
    edited = [
        path
        for folder in ("serve", "monitoring", "deploy")
        for path in sorted((package / folder).glob("*.py"))
    ]
    assert len(edited) >= 12
    for path in edited:
        path.write_text(path.read_text() + "\n# an edit that cannot change the model\n")
    status = run(".venv/bin/dvc status", project)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout


def test_dvc_repro_outside_the_environment(project: Path) -> None:
    """With .venv not activated, stages move into it; without .venv, one line says what to do."""
    edit_params(project, lambda params: params["split"].update(seed=7))
    bare = {"PATH": "/usr/local/bin:/usr/bin:/bin"}  # a `python` without the project
    output = run(".venv/bin/dvc repro", project, env=bare).stdout
    assert {"split", "train", "evaluate", "profile"} <= ran_stages(output), output

    (project / ".venv").rename(project / ".elsewhere")
    failed = run(
        ".elsewhere/bin/python -m dvc repro -f --single-item ingest", project, False, env=bare
    )
    assert failed.returncode != 0
    assert "does not have my-ml-project installed - run `make install`" in failed.stderr
    assert "ModuleNotFoundError" not in failed.stderr


def test_the_lock_is_the_same_on_one_core_as_on_all(project: Path) -> None:
    """Training and permutation importance use every core without changing a byte."""
    lock = (project / "dvc.lock").read_text()
    output = run("taskset -c 0 .venv/bin/dvc repro --force", project).stdout
    assert "Running stage 'train'" in output
    assert (project / "dvc.lock").read_text() == lock
