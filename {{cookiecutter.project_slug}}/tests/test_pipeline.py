"""Your project end to end on rows shaped like your data: every stage dvc.yaml defines, in
order, then the model deployed and fed raw rows by the server, `make predict` and
`make monitor`.

The rows come from tests/project_data.py (your schema and params.yaml), so your own data
and the features your derive.py adds are what runs here; it follows dvc.yaml, so a stage
you add runs too. The pipeline runs once, for every test here, with the model kept small
(project_data.quick_params). It needs none of the project's data files, so a clean clone
runs it; `make repro` runs the real thing on the real data.
"""

import json
import logging
import math
import shlex
import shutil
from graphlib import TopologicalSorter
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from dvc.repo import Repo

from {{ cookiecutter.package_name }}.cli import run
from {{ cookiecutter.package_name }}.deploy import release
from {{ cookiecutter.package_name }}.deploy.registry import Registry, RegistryError
from {{ cookiecutter.package_name }}.monitoring import monitor
from {{ cookiecutter.package_name }}.params import Params, load_params
from {{ cookiecutter.package_name }}.pipeline.features import model_inputs
from {{ cookiecutter.package_name }}.products import product
from {{ cookiecutter.package_name }}.scoring import predict

from .conftest import in_parts
from .project_data import PROJECT, project_frame, project_params, quick_params

pytestmark = pytest.mark.project_data

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
    files of rows like yours (the data in partitions); every stage run."""
    root = tmp_path_factory.mktemp("pipeline")
    shutil.copy(PROJECT / "dvc.yaml", root)
    params = quick_params()
    in_parts(project_frame(), root / "data/external/small", 2, ".csv")
    data = {**params["data"], "source": "data/external/small/part-*.csv"}
    (root / "params.yaml").write_text(yaml.safe_dump({**params, "data": data}, sort_keys=False))
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
    inputs = [entry["name"] for entry in reference["inputs"]]
    assert inputs == list(model.feature_names_in_)
    assert set(reference["features"]) <= set(inputs)  # dates are inputs, not profiled
    assert reference["rows"] == len(pd.read_parquet(product("train")))


def raw_rows() -> pd.DataFrame:
    """Rows as clients send them: the raw columns the model takes (those of data.source,
    unless a stage before train made or dropped some), no target."""
    return model_inputs(joblib.load(product("model")), project_frame())


def same_predictions(got: list, rows: pd.DataFrame) -> bool:
    """Whether outputs match the pipeline's own model on these rows."""
    expected = joblib.load(product("model")).predict(rows)
    if project_params()["task"] == "regression":
        return bool(np.allclose(np.asarray(got, dtype=float), expected))
    return [str(value) for value in got] == [str(value) for value in expected]


def lenient_params() -> Params:
    """params.yaml with a gate any model passes: a few dozen rows score what they score."""
    params = load_params()
    lowest = math.inf if params.deploy.metric in release.LOWER_IS_BETTER else -math.inf
    gate = params.deploy.model_copy(update={"threshold": lowest})
    return params.model_copy(update={"deploy": gate})


@pytest.fixture(scope="module")
def registry_folder(pipeline: Path, tmp_path_factory) -> str:
    """The pipeline's model deployed to production in a registry of its own."""
    folder = str(tmp_path_factory.mktemp("registry"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(pipeline)
        patch.setattr(release, "load_params", lenient_params)
        patch.setenv("MODEL_REGISTRY", folder)
        patch.delenv("DEPLOY_ENV", raising=False)
        release.deploy()
    return folder


@pytest.fixture
def deployed(inside: Path, registry_folder: str, monkeypatch) -> str:
    monkeypatch.setenv("MODEL_REGISTRY", registry_folder)
    monkeypatch.delenv("DEPLOY_ENV", raising=False)
    return registry_folder
{%- if cookiecutter.serving == "fastapi" %}


def test_the_server_takes_raw_rows(deployed: str) -> None:
    """/predict and V2 infer take the columns of data.source; the model derives the rest."""
    from fastapi.testclient import TestClient

    from {{ cookiecutter.package_name }}.deploy import bundle
    from {{ cookiecutter.package_name }}.serve.app import create_app
    from {{ cookiecutter.package_name }}.serve.settings import Settings

    rows = raw_rows()
    records = bundle.records(rows)
    name = project_params()["deploy"]["model_name"]
    settings = Settings(MODEL_REGISTRY=deployed, model_name=name, poll_interval=60)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/predict", json={"records": records})
        assert answer.status_code == 200, answer.text
        features = client.get(f"/v2/models/{name}").json()["inputs"]
        tensors = [
            {**feature, "shape": [len(records)], "data": [row[feature["name"]] for row in records]}
            for feature in features
        ]
        v2 = client.post(f"/v2/models/{name}/infer", json={"inputs": tensors})
        assert v2.status_code == 200, v2.text
    assert same_predictions(answer.json()["predictions"], rows)
    assert same_predictions(v2.json()["outputs"][0]["data"], rows)
{%- endif %}


def test_make_predict_scores_raw_rows(deployed: str, tmp_path: Path) -> None:
    rows = raw_rows()
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predict(str(tmp_path / "rows.csv"), str(tmp_path / "scored"))
    scored = pd.read_parquet(tmp_path / "scored")
    assert len(scored) == len(rows)
    assert same_predictions(scored["prediction"].tolist(), rows)


def test_the_monitor_watches_raw_rows(deployed: str, tmp_path: Path) -> None:
    """The raw columns are compared with the reference, and a shifted one drifts."""
    rows = raw_rows()
    reference = json.loads(product("profile").read_text())
    rows.to_csv(tmp_path / "same.csv", index=False)
    report = monitor.compare(str(tmp_path / "same.csv"))
    assert set(report["features"]) == set(reference["features"])
    assert report["reference"].startswith("production version")
    numeric = [n for n, summary in reference["features"].items() if summary["kind"] == "numeric"]
    text = [n for n, summary in reference["features"].items() if summary["kind"] != "numeric"]
    if numeric:
        shifted = numeric[0]
        moved = rows[shifted] + 10 * (rows[shifted].std() or 1.0)
    elif text:
        shifted, moved = text[0], "a value never seen in training"
    else:
        pytest.skip("the model's inputs are dates only: nothing the monitor compares")
    rows.assign(**{shifted: moved}).to_csv(tmp_path / "shifted.csv", index=False)
    report = monitor.compare(str(tmp_path / "shifted.csv"))
    assert shifted in report["drifted_features"]


# `deploy` per environment: staging first, production left alone, then the same version
# promoted.
@pytest.fixture
def deploying(pipeline: Path, tmp_path: Path, monkeypatch) -> Registry:
    """In the pipeline's folder, with a registry of its own and a gate any model passes."""
    monkeypatch.chdir(pipeline)
    lenient = lenient_params()
    monkeypatch.setattr(release, "load_params", lambda: lenient)
    monkeypatch.setenv("MODEL_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.delenv("DEPLOY_ENV", raising=False)
    return release.registry(lenient)


def test_deploy_to_staging_leaves_production_alone(deploying: Registry, caplog) -> None:
    caplog.set_level(logging.INFO)
    said = release.deploy("staging")
    version = deploying.current("staging")
    where = deploying.where(version, "card.md")
    assert said == (
        f"deployed version {version} to staging in {deploying.location}\nits model card: {where}"
    )
    written = Path(where).read_text()  # the card of the pipeline's own model
    assert "production serves no version yet" in written and "## Drift reference" in written
    assert deploying.current() is None
    assert "production serves no version yet" in caplog.text
    unchanged = f"model unchanged: staging already serves it as version {version}"
    assert release.deploy("staging").startswith(unchanged)
    assert "no retraining" in release.promote("staging", "production")
    assert deploying.current() == version and deploying.versions() == [version]


def test_deploy_env_names_the_environment(deploying: Registry, monkeypatch) -> None:
    monkeypatch.setenv("DEPLOY_ENV", "qa")
    release.deploy()
    assert set(deploying.environments()) == {"production", "qa"}
    assert deploying.current() is None
    monkeypatch.setenv("DEPLOY_ENV", "../qa")
    with pytest.raises(RegistryError, match=r"DEPLOY_ENV: '\.\./qa' is not an environment name"):
        release.deploy()
{%- if cookiecutter.serving == "none" %}


def test_smoke_without_a_server_says_so_and_loads_the_version(deploying: Registry) -> None:
    from {{ cookiecutter.package_name }}.deploy import smoke

    release.deploy("staging")
    said = smoke.smoke("staging")
    assert said.startswith("no server to check: this project has none (baked with serving=none)")
    assert deploying.current("staging") in said
{%- endif %}
