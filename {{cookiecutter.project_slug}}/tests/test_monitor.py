"""`monitor` end to end on a tiny trained model: exit codes, reports and messages."""

import json
import shutil
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.cli import main as cli
from {{ cookiecutter.package_name }}.monitoring import monitor as monitoring
from {{ cookiecutter.package_name }}.monitoring import report as driftreport
from {{ cookiecutter.package_name }}.pipeline import tables
from {{ cookiecutter.package_name }}.products import product
from {{ cookiecutter.package_name }}.stages.profile import profile
from {{ cookiecutter.package_name }}.stages.train import train

from .conftest import make_params, publish_tiny
from .project_data import PROJECT

pytestmark = [pytest.mark.machinery, pytest.mark.usefixtures("session_cluster")]


@pytest.fixture
def training() -> pd.DataFrame:
    """Enough rows for the tests to have power: numbers, a category, a binary target."""
    rng = np.random.default_rng(1)
    rows = 600
    size = rng.normal(10, 2, rows)
    return pd.DataFrame(
        {
            "size": size,
            "count": rng.integers(0, 5, rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "target": (size > 10).astype(int),
        }
    )


@pytest.fixture
def task() -> str:
    return "classification"


@pytest.fixture
def workspace(tmp_path, monkeypatch, training, task):
    """A project folder after `make repro`: params, model and reference; nothing deployed."""
    shutil.copy(PROJECT / "dvc.yaml", tmp_path)  # where the model and its profile live
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODEL_REGISTRY", str(tmp_path / "registry"))
    if task == "regression":
        training["target"] = training["size"] * 3 + training["count"]
    params = make_params(task)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params.model_dump()))
    model, reference = trained(task, training, params)
    product("model").parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, product("model"))
    product("profile").parent.mkdir(parents=True, exist_ok=True)
    product("profile").write_text(json.dumps(reference))
    return tmp_path


TRAINED: dict[str, tuple] = {}


def trained(task: str, training: pd.DataFrame, params) -> tuple:
    """The model and its reference profile, fitted once per task for the whole module."""
    if task not in TRAINED:
        model = train(training, params)
        table = tables.from_frame(training)
        TRAINED[task] = model, profile(model, table, table, params)
    return TRAINED[task]


def monitor(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["prog", "monitor", *map(str, args)])
    try:
        return cli()
    except SystemExit as exit:
        return exit.code


def test_a_sample_of_the_training_data_shows_no_drift(workspace, monkeypatch, training) -> None:
    training.sample(300, random_state=0).to_csv("batch.csv", index=False)
    assert monitor(monkeypatch, "batch.csv") == 0
    report = json.loads((workspace / "reports/drift.json").read_text())
    assert report["drift"] is False and report["rows"] == 300
    assert "nothing deployed yet" in report["reference"]
    assert (workspace / "reports/drift.md").read_text().startswith("## Drift report")
    assert "<svg" in (workspace / "reports/drift.html").read_text()


def test_a_shifted_feature_is_named_and_exits_1(workspace, monkeypatch, training, capsys) -> None:
    batch = training.sample(300, random_state=0).drop(columns=["target"])
    batch["size"] += 2  # one standard deviation
    batch.to_parquet("batch.parquet")
    assert monitor(monkeypatch, "batch.parquet") == 1
    report = json.loads((workspace / "reports/drift.json").read_text())
    assert report["drifted_features"] == ["size"]
    assert "size: distribution shifted" in capsys.readouterr().out
    assert "**yes**" in (workspace / "reports/drift.md").read_text()


def test_an_input_whose_values_are_not_profiled_is_watched_by_its_missing_rate(
    workspace, monkeypatch, training, capsys
) -> None:
    """A raw column derive() drops or turns into others (an identifier, a date) has no
    profile of its values, but a batch in which it went missing drifts on it."""
    reference = json.loads(product("profile").read_text())
    del reference["features"]["count"]  # as for a column derive() drops
    product("profile").write_text(json.dumps(reference))
    batch = training.sample(300, random_state=0).drop(columns=["target"])
    batch.to_parquet("same.parquet")
    assert monitor(monkeypatch, "same.parquet") == 0
    report = json.loads((workspace / "reports/drift.json").read_text())
    assert report["inputs"]["count"]["missing_rate"] == {"reference": 0.0, "batch": 0.0}
    batch["count"] = np.nan
    batch.to_parquet("emptied.parquet")
    assert monitor(monkeypatch, "emptied.parquet") == 1
    report = json.loads((workspace / "reports/drift.json").read_text())
    assert report["drifted_features"] == ["count"]
    assert "  count: missing rate 0.0% -> 100.0%" in capsys.readouterr().out
    markdown = (workspace / "reports/drift.md").read_text()
    assert "| count | missing values only | | | | 0.0% -> 100.0% | **yes**" in markdown
    assert "only its missing rate is watched" in (workspace / "reports/drift.html").read_text()


def test_the_production_reference_is_used_once_deployed(workspace, monkeypatch, training) -> None:
    from {{ cookiecutter.package_name }}.deploy.registry import Registry

    version = publish_tiny(Registry(str(workspace / "registry"), "tiny"), training)
    training.to_csv("batch.csv", index=False)
    monitor(monkeypatch, "batch.csv")
    report = json.loads((workspace / "reports/drift.json").read_text())
    assert report["reference"].startswith(f"production version {version}")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "empty.csv: No columns to parse from file"),
        ("header-only.csv", "size,count,colour\n", "holds no rows"),
        (
            "unrelated.csv",
            "a,b\n1,2\n",
            "lacks 3 of the model's 3 input columns (size, count, colour)",
        ),
        ("garbage.parquet", "not parquet at all", "garbage.parquet: "),
        ("missing.csv", None, "'missing.csv' does not exist"),
        ("notes.txt", "hello", "holds files of type(s) .txt"),
        ("text.csv", "size,count,colour\nbig,1,red\n", "column 'size' holds text"),
    ],
)
def test_unusable_input_exits_2_naming_the_problem(
    workspace, monkeypatch, capsys, name, content, message
) -> None:
    (workspace / "reports").mkdir()
    (workspace / "reports/drift.json").write_text("{}")  # a verdict from an earlier run
    if content is not None:
        (workspace / name).write_text(content)
    assert monitor(monkeypatch, name) == 2
    assert message in capsys.readouterr().err
    assert not (workspace / "reports/drift.json").exists(), "a stale verdict was left behind"
    assert (workspace / "reports/drift.previous.json").read_text() == "{}", "the verdict is lost"


def test_a_failed_run_keeps_the_last_verdict_apart_until_the_next(
    workspace, monkeypatch, training, caplog
) -> None:
    """Unusable input: no drift.* (nothing to take for this run's verdict), the last run's
    reports as drift.previous.*, and the log says so. The next verdict clears them."""
    training.sample(300, random_state=0).to_csv("batch.csv", index=False)
    assert monitor(monkeypatch, "batch.csv") == 0
    reports = workspace / "reports"
    verdict = {name: (reports / name).read_text() for name in ("drift.json", "drift.md")}
    (workspace / "empty.csv").write_text("")
    assert monitor(monkeypatch, "empty.csv") == 2
    assert monitor(monkeypatch, "empty.csv") == 2  # a second failure keeps the same verdict
    assert not list(reports.glob("drift.json*")) and not (reports / "drift.md").exists()
    for name, text in verdict.items():
        assert (reports / name.replace("drift.", "drift.previous.")).read_text() == text
    assert "this run wrote no drift report; the last verdict's are kept as" in caplog.text
    assert monitor(monkeypatch, "batch.csv") == 0
    assert sorted(path.name for path in reports.iterdir()) == [
        "drift.html",
        "drift.json",
        "drift.md",
    ]


def test_a_run_that_fails_while_writing_its_reports_leaves_no_verdict(
    workspace, monkeypatch, training
) -> None:
    """The reports replace the old ones only once all three are written."""
    training.sample(300, random_state=0).to_csv("batch.csv", index=False)
    assert monitor(monkeypatch, "batch.csv") == 0
    old = (workspace / "reports/drift.json").read_text()

    def full_disk(report: dict) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(driftreport, "page", full_disk)
    with pytest.raises(OSError, match="No space left"):
        monitor(monkeypatch, "batch.csv")
    assert sorted(path.name for path in (workspace / "reports").iterdir()) == [
        "drift.previous.html",
        "drift.previous.json",
        "drift.previous.md",
    ]
    assert (workspace / "reports/drift.previous.json").read_text() == old


def test_a_folder_without_logs_is_unusable(workspace, monkeypatch, capsys) -> None:
    (workspace / "logs").mkdir()
    assert monitor(monkeypatch, "logs") == 2
    assert "holds no prediction logs" in capsys.readouterr().err


def test_a_folder_of_logs_is_compared_with_the_predictions_logged(
    workspace, monkeypatch, training
) -> None:
    batch = training.sample(300, random_state=0).drop(columns=["target"])
    entry = {"inputs": batch.to_dict(orient="records"), "outputs": {"predictions": [1] * 300}}
    (workspace / "logs").mkdir()
    (workspace / "logs/predictions-1.jsonl").write_text(json.dumps(entry) + "\n")
    assert monitor(monkeypatch, "logs") == 1
    report = json.loads((workspace / "reports/drift.json").read_text())
    assert report["rows"] == 300 and report["drifted_features"] == []
    assert report["prediction_drift"], "the logged predictions (all 1) were not the ones compared"


def log_line(rows: pd.DataFrame, predictions: list) -> str:
    """A line as the server's prediction log writes it."""
    entry = {"model_version": "0001-abc1234", "inputs": rows.to_dict(orient="records")}
    return json.dumps({**entry, "outputs": {"predictions": predictions}})


def test_malformed_log_lines_are_skipped_and_counted(
    workspace, monkeypatch, training, capsys
) -> None:
    """A line cut short, edited or misaligned costs its own rows, never the verdict (exit 1
    would mean drift, and retrain): the good lines are compared, the others counted."""
    batch = training.sample(300, random_state=0).drop(columns=["target"])
    model = TRAINED["classification"][0]
    good = log_line(batch, model.predict(batch).tolist())
    lines = [
        good,
        good[: len(good) // 2],  # a write cut short
        log_line(batch.head(50), [1]),  # 50 rows, 1 prediction
        json.dumps([1, 2]),
        json.dumps({"inputs": "size", "outputs": {"predictions": [1, 2, 3, 4]}}),
        log_line(batch.head(2).drop(columns=["colour"]), [1, 0]),
        "",
    ]
    (workspace / "logs").mkdir()
    (workspace / "logs/predictions.jsonl").write_text("\n".join(lines) + "\n")
    assert monitor(monkeypatch, "logs") == 0
    report = json.loads((workspace / "reports/drift.json").read_text())
    assert report["rows"] == 300 and report["skipped_lines"] == 5
    said = "skipped 5 malformed line(s): 2 not a logged request, 1 not JSON, 1 inputs and "
    assert said in capsys.readouterr().out
    assert said.lower() in (workspace / "reports/drift.md").read_text().lower()


ROW = {"size": 10.0, "count": 2, "colour": "red"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "not JSON"),
        (
            json.dumps({"inputs": [ROW] * 50, "outputs": {"predictions": [1]}}),
            "inputs and predictions of different lengths",
        ),
        (json.dumps({"inputs": [ROW], "outputs": {"predictions": [[1]]}}), "predictions that"),
    ],
    ids=["not-json", "50-rows-1-prediction", "nested-prediction"],
)
def test_a_log_without_a_usable_line_is_unusable(
    workspace, monkeypatch, capsys, line, reason
) -> None:
    (workspace / "logs").mkdir()
    (workspace / "logs/predictions-1.jsonl").write_text(line + "\n")
    assert monitor(monkeypatch, "logs") == 2
    refused = capsys.readouterr().err
    assert f"logs holds no rows the monitor can use: 1 malformed line(s): 1 {reason}" in refused


@pytest.mark.parametrize("task", ["regression"])
def test_regression_predictions_drift_as_numbers(workspace, monkeypatch, training) -> None:
    batch = training.sample(300, random_state=0)
    batch.to_csv("same.csv", index=False)
    assert monitor(monkeypatch, "same.csv") == 0
    batch.assign(size=batch["size"] + 4).to_csv("shifted.csv", index=False)
    assert monitor(monkeypatch, "shifted.csv") == 1
    report = json.loads((workspace / "reports/drift.json").read_text())
    assert report["predictions"]["kind"] == "numeric"
    assert report["prediction_drift"] and report["drifted_features"] == ["size"]


def report_of(workspace) -> dict:
    """The drift report, batch means rounded (sums in another order differ in the last bits)."""
    report = json.loads((workspace / "reports/drift.json").read_text())
    report.pop("batch")
    for result in [*report["features"].values(), report["predictions"]]:
        if result.get("mean", {}).get("batch") is not None:
            result["mean"]["batch"] = round(result["mean"]["batch"], 9)
    return report


def test_a_dataset_in_parts_and_in_chunks_reports_as_one_file(
    workspace, monkeypatch, training
) -> None:
    """A folder of Parquet files, or a file read a few rows at a time, is counted partition
    by partition into the same statistics as the rows at once."""
    batch = training.sample(300, random_state=0)
    batch["size"] += 1  # some drift, so the statistics are not all zero
    batch.to_parquet("batch.parquet")
    assert monitor(monkeypatch, "batch.parquet") == 1
    at_once = report_of(workspace)
    (workspace / "parts").mkdir()
    for number, start in enumerate(range(0, 300, 70)):
        batch.iloc[start : start + 70].to_parquet(f"parts/part-{number:05d}.parquet")
    assert monitor(monkeypatch, "parts") == 1
    assert report_of(workspace) == at_once
    monkeypatch.setattr(monitoring, "CHUNK_ROWS", 50)
    assert monitor(monkeypatch, "batch.parquet") == 1
    assert report_of(workspace) == at_once


def test_a_batchs_own_predictions_are_never_taken_for_the_models(
    workspace, monkeypatch, training
) -> None:
    """Rows `make predict` scored carry a prediction column; whoever supplies the batch
    writes it too, so the monitor predicts again with the reference's model rather than
    let a batch hide prediction drift, even when it names the reference's version."""
    from {{ cookiecutter.package_name }}.deploy.registry import Registry

    version = publish_tiny(Registry(str(workspace / "registry"), "tiny"), training)
    batch = training.sample(300, random_state=0).assign(prediction=1)  # not what it predicts
    batch.assign(model_version=version).to_parquet("scored.parquet")
    assert monitor(monkeypatch, "scored.parquet") == 0
    assert not report_of(workspace)["prediction_drift"]
