import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.pipeline import tables
from {{ cookiecutter.package_name }}.stages import evaluate as evaluate_stage
from {{ cookiecutter.package_name }}.stages.evaluate import evaluate
from {{ cookiecutter.package_name }}.stages.train import train

from .conftest import make_params, small_frame

pytestmark = pytest.mark.machinery


def test_binary_classification_report(mixed_frame: pd.DataFrame) -> None:
    params = make_params()
    model = train(mixed_frame, params)
    scores, plots = evaluate(model, tables.from_frame(mixed_frame), params)
    assert set(scores) == {"accuracy", "f1", "precision", "recall", "roc_auc"}
    assert all(0 <= value <= 1 for value in scores.values())
    assert set(plots) == {"confusion.csv", "roc.csv", "precision_recall.csv", "importance.csv"}
    assert len(plots["confusion.csv"]) == len(mixed_frame)
    assert set(plots["importance.csv"]["feature"]) == {"size", "count", "colour"}


def test_multiclass_report(mixed_frame: pd.DataFrame) -> None:
    frame = mixed_frame.assign(target=mixed_frame["count"] % 3)
    params = make_params()
    scores, plots = evaluate(train(frame, params), tables.from_frame(frame), params)
    assert 0 <= scores["roc_auc"] <= 1
    assert plots["roc.csv"]["tpr"].iloc[-1] == 1


def test_regression_report(regression_frame: pd.DataFrame) -> None:
    params = make_params("regression", "linear")
    model = train(regression_frame, params)
    scores, plots = evaluate(model, tables.from_frame(regression_frame), params)
    assert set(scores) == {"rmse", "mae", "r2"}
    assert scores["r2"] > 0.9
    table = plots["predictions.csv"]
    assert (table["actual"] - table["predicted"] - table["residual"]).abs().max() < 1e-9


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_plots_of_many_rows_are_thinned_for_git(monkeypatch, task: str) -> None:
    monkeypatch.setattr(evaluate_stage, "PLOT_ROWS", 10)
    frame = small_frame(task)
    params = make_params(task)
    _, plots = evaluate(train(frame, params), tables.from_frame(frame), params)
    for name, table in plots.items():
        assert 0 < len(table) <= 11, name
    curve = plots.get("roc.csv")
    assert curve is None or curve["tpr"].iloc[-1] == 1, "a thinned curve keeps its end"


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_partitions_score_as_the_whole(tmp_path, task: str) -> None:
    """Test rows in several files give the metrics and plots of the same rows in one."""
    frame = small_frame(task)
    params = make_params(task, "random_forest")
    model = train(frame, params)
    for number, start in enumerate(range(0, len(frame), 25)):
        frame.iloc[start : start + 25].to_parquet(tmp_path / f"part-{number:05d}.parquet")
    whole = evaluate(model, tables.from_frame(frame), params)
    parts = evaluate(model, tables.open_table(tmp_path), params)
    assert parts[0] == whole[0]
    for name, table in whole[1].items():
        pd.testing.assert_frame_equal(parts[1][name], table)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_dask_engine_gives_the_same_metrics(dask_client, tmp_path, task: str) -> None:
    dask_tables = pytest.importorskip("{{ cookiecutter.package_name }}.pipeline.dask_tables")
    frame = small_frame(task)
    params = make_params(task, "random_forest")
    model = train(frame, params)
    for number, start in enumerate(range(0, len(frame), 25)):
        frame.iloc[start : start + 25].to_parquet(tmp_path / f"part-{number:05d}.parquet")
    local = evaluate(model, tables.open_table(tmp_path), params)
    for table in (dask_tables.from_frame(frame), dask_tables.open_table(tmp_path)):
        scores, plots = evaluate(model, table, params)
        assert scores == local[0]
        for name, expected in local[1].items():
            pd.testing.assert_frame_equal(plots[name], expected)
