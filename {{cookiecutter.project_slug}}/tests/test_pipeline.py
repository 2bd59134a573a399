"""The pipeline as dvc.yaml defines it, every stage in order, on small data made here.

It follows dvc.yaml, so a stage you add is run too; it needs none of the project's data,
so a clone without it runs it. `make repro` runs the real thing on the real data.
"""

import json
import shlex
import shutil
from pathlib import Path

import joblib
import networkx as nx
import pandas as pd
import pytest
import yaml
from dvc.repo import Repo

from {{ cookiecutter.package_name }}.cli import run
from {{ cookiecutter.package_name }}.params import load_params
from {{ cookiecutter.package_name }}.products import product

from .conftest import PROJECT

METRICS = {"classification": {"accuracy", "roc_auc"}, "regression": {"rmse", "r2"}}


def stage_commands(root: Path) -> list[tuple[str, list[str]]]:
    """Each stage's command and arguments as DVC resolves them, inputs first."""
    graph = Repo(str(root)).index.graph  # an edge runs from a stage to one it depends on
    commands = []
    for stage in reversed(list(nx.topological_sort(graph))):
        words = shlex.split(stage.cmd)
        assert words[0] in ("python", "python3"), f"{stage.addressing} does not run python"
        start = 3 if words[1] == "-m" else 2  # `python -m <package>` or `python src/<package>`
        commands.append((words[start], words[start + 1 :]))
    return commands


@pytest.fixture
def project(tmp_path: Path, monkeypatch, mixed_frame, regression_frame) -> Path:
    """dvc.yaml and params.yaml in a scratch folder, with data.source a small CSV."""
    shutil.copy(PROJECT / "dvc.yaml", tmp_path)
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    frame = mixed_frame if params["task"] == "classification" else regression_frame
    (tmp_path / "data/external").mkdir(parents=True)
    frame.to_csv(tmp_path / "data/external/small.csv", index=False)
    params["data"] = {"source": "data/external/small.csv", "target": "target"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    Repo.init(str(tmp_path), no_scm=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_stage_runs_and_writes_its_outputs(project: Path) -> None:
    commands = stage_commands(project)
    for command, argv in commands:
        run(command, argv)
    for stage in Repo(str(project)).index.stages:
        for out in stage.outs:
            assert Path(out.fs_path).exists(), f"stage {stage.addressing} did not write {out}"
    task = load_params().task
    assert METRICS[task] <= set(json.loads(product("metrics").read_text()))


def test_the_profile_follows_the_model(project: Path) -> None:
    for command, argv in stage_commands(project):
        run(command, argv)
    model = joblib.load(product("model"))
    reference = json.loads(product("profile").read_text())
    assert sorted(reference["features"]) == sorted(model.feature_names_in_)
    assert reference["rows"] == len(pd.read_parquet(product("train")))
