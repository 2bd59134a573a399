import pandas as pd

from {{ cookiecutter.package_name }}.stages.evaluate import evaluate
from {{ cookiecutter.package_name }}.stages.train import train

from .conftest import make_params


def test_binary_classification_report(mixed_frame: pd.DataFrame) -> None:
    params = make_params()
    scores, plots = evaluate(train(mixed_frame, params), mixed_frame, params)
    assert set(scores) == {"accuracy", "f1", "precision", "recall", "roc_auc"}
    assert all(0 <= value <= 1 for value in scores.values())
    assert set(plots) == {"confusion.csv", "roc.csv", "precision_recall.csv", "importance.csv"}
    assert len(plots["confusion.csv"]) == len(mixed_frame)
    assert set(plots["importance.csv"]["feature"]) == {"size", "count", "colour"}


def test_multiclass_report(mixed_frame: pd.DataFrame) -> None:
    frame = mixed_frame.assign(target=mixed_frame["count"] % 3)
    params = make_params()
    scores, plots = evaluate(train(frame, params), frame, params)
    assert 0 <= scores["roc_auc"] <= 1
    assert plots["roc.csv"]["tpr"].iloc[-1] == 1


def test_regression_report(regression_frame: pd.DataFrame) -> None:
    params = make_params("regression", "linear")
    scores, plots = evaluate(train(regression_frame, params), regression_frame, params)
    assert set(scores) == {"rmse", "mae", "r2"}
    assert scores["r2"] > 0.9
    table = plots["predictions.csv"]
    assert (table["actual"] - table["predicted"] - table["residual"]).abs().max() < 1e-9
