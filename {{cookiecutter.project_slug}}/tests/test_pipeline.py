"""The pipeline as dvc.yaml defines it, every stage in order, on small data made here.

It follows dvc.yaml, so a stage you add is run too; it needs none of the project's data,
so a clone without it runs it. `make repro` runs the real thing on the real data.
"""

import json
import shlex
import shutil
from graphlib import TopologicalSorter
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml
from dvc.repo import Repo

from {{ cookiecutter.package_name }}.cli import run
from {{ cookiecutter.package_name }}.products import product

from .conftest import PROJECT, in_parts, small_frame

METRICS = {"classification": {"accuracy", "roc_auc"}, "regression": {"rmse", "r2"}}


def stage_commands(repo: Repo) -> list[tuple[str, list[str]]]:
    """Each stage's command and arguments as DVC resolves them, inputs first."""
    graph = repo.index.graph  # an edge runs from a stage to one it depends on
    order = TopologicalSorter({stage: set(graph.successors(stage)) for stage in graph})
    commands = []
    for stage in order.static_order():
        words = shlex.split(stage.cmd)
        assert words[0] in ("python", "python3"), f"{stage.addressing} does not run python"
        start = 3 if words[1] == "-m" else 2  # `python -m <package>` or `python src/<package>`
        commands.append((words[start], words[start + 1 :]))
    return commands


@pytest.fixture(scope="module")
{%- if cookiecutter.compute == "dask" %}
def pipeline(tmp_path_factory, dask_client) -> Path:
{%- else %}
def pipeline(tmp_path_factory) -> Path:
{%- endif %}
    """dvc.yaml and params.yaml in a scratch folder, data.source a glob of two small CSV
    files (the data in partitions); every stage run."""
    root = tmp_path_factory.mktemp("pipeline")
    shutil.copy(PROJECT / "dvc.yaml", root)
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    in_parts(small_frame(params["task"]), root / "data/external/small", 2, ".csv")
    params["data"] = {"source": "data/external/small/part-*.csv", "target": "target"}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
{%- if cookiecutter.compute == "dask" %}
        # The stages join the tests' cluster, as they would an external scheduler.
        patch.setenv("DASK_SCHEDULER_ADDRESS", dask_client.scheduler.address)
{%- endif %}
        for command, argv in stage_commands(Repo.init(str(root), no_scm=True)):
            run(command, argv)
    return root


@pytest.fixture
def inside(pipeline: Path, monkeypatch) -> Path:
    monkeypatch.chdir(pipeline)
    return pipeline


def test_every_stage_writes_its_outputs(inside: Path) -> None:
    for stage in Repo(str(inside)).index.stages:
        for out in stage.outs:
            assert Path(out.fs_path).exists(), f"stage {stage.addressing} did not write {out}"
    task = yaml.safe_load(Path("params.yaml").read_text())["task"]
    assert METRICS[task] <= set(json.loads(product("metrics").read_text()))


def test_the_profile_follows_the_model(inside: Path) -> None:
    model = joblib.load(product("model"))
    reference = json.loads(product("profile").read_text())
    assert sorted(reference["features"]) == sorted(model.feature_names_in_)
    assert reference["rows"] == len(pd.read_parquet(product("train")))
