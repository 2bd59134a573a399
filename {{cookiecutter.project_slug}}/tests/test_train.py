import logging
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.pipeline import metrics
from {{ cookiecutter.package_name }}.pipeline.model import save_model
from {{ cookiecutter.package_name }}.pipeline.tables import from_frame, open_table
from {{ cookiecutter.package_name }}.stages.train import train, training_rows

from .conftest import in_parts, make_params

pytestmark = pytest.mark.machinery

ESTIMATORS = ["random_forest", "gradient_boosting", "linear"]


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_classifiers_fit_mixed_data(mixed_frame: pd.DataFrame, estimator: str) -> None:
    """Missing values and text columns go through imputation and one-hot encoding."""
    model = train(mixed_frame, make_params("classification", estimator))
    assert set(model.predict(mixed_frame.drop(columns="target"))) <= {0, 1}


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_regressors_fit_mixed_data(regression_frame: pd.DataFrame, estimator: str) -> None:
    model = train(regression_frame, make_params("regression", estimator))
    assert model.predict(regression_frame.drop(columns="target")).shape == (len(regression_frame),)


def test_unknown_estimator_param_is_named(mixed_frame: pd.DataFrame) -> None:
    with pytest.raises(PipelineError, match=r"train\.random_forest holds.*n_trees"):
        train(mixed_frame, make_params(n_trees=5))


def test_invalid_estimator_param_is_explained(mixed_frame: pd.DataFrame) -> None:
    with pytest.raises(PipelineError, match="n_estimators"):
        train(mixed_frame, make_params(n_estimators=-1))


def test_unseen_category_is_tolerated(mixed_frame: pd.DataFrame) -> None:
    model = train(mixed_frame, make_params())
    assert len(model.predict(mixed_frame.drop(columns="target").assign(colour="purple"))) == 80


def test_training_uses_every_core_and_saves_the_default(mixed_frame, monkeypatch) -> None:
    """The forest fits with n_jobs=-1; the saved model keeps n_jobs unset, so its bytes do
    not depend on the machine's core count."""
    seen = []
    fit = RandomForestClassifier.fit

    def spy(self, *args, **kwargs):
        seen.append(self.n_jobs)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(RandomForestClassifier, "fit", spy)
    model = train(mixed_frame, make_params(n_jobs=None))  # as params.yaml leaves it
    assert seen == [-1]
    assert model[-1].n_jobs is None


def test_an_estimator_that_ignores_n_jobs_is_not_given_it(mixed_frame, monkeypatch) -> None:
    """LogisticRegression fits in one process; scikit-learn 1.8 warns when n_jobs is set."""
    seen = []
    fit = LogisticRegression.fit

    def spy(self, *args, **kwargs):
        seen.append(self.n_jobs)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", spy)
    train(mixed_frame, make_params("classification", "linear"))
    assert seen == [None]


def test_permutation_importance_uses_every_core(mixed_frame, monkeypatch) -> None:
    calls = []
    original = metrics.permutation_importance

    def spy(*args, **kwargs):
        calls.append(kwargs["n_jobs"])
        return original(*args, **kwargs)

    monkeypatch.setattr(metrics, "permutation_importance", spy)
    model = train(mixed_frame, make_params())
    metrics.importance_table(
        model, mixed_frame.drop(columns="target"), mixed_frame["target"], 2, 50, 0
    )
    assert calls == [-1]


def test_all_rows_train_under_max_rows(mixed_frame: pd.DataFrame, caplog) -> None:
    with caplog.at_level(logging.INFO):
        rows = training_rows(from_frame(mixed_frame), make_params(max_rows=80))
    pd.testing.assert_frame_equal(rows, mixed_frame)
    assert "trained on" not in caplog.text


def test_more_rows_than_max_rows_are_sampled(mixed_frame, tmp_path: Path, caplog) -> None:
    """Above train.max_rows a sample is trained on, the same rows however the data is
    partitioned, in their order; the log says so."""
    params = make_params(max_rows=40)
    with caplog.at_level(logging.INFO):
        whole = training_rows(from_frame(mixed_frame), params)
    parts = training_rows(open_table(in_parts(mixed_frame, tmp_path / "parts", 4)), params)
    assert 0 < len(whole) <= 40
    pd.testing.assert_frame_equal(whole, parts)
    kept = mixed_frame.merge(whole, how="left", indicator=True)["_merge"] == "both"
    pd.testing.assert_frame_equal(whole, mixed_frame[kept].reset_index(drop=True))
    assert f"trained on {len(whole)} of 80 rows (train.max_rows=40)" in caplog.text


def test_saved_model_bytes_repeat(mixed_frame: pd.DataFrame, tmp_path: Path) -> None:
    """Two fits of the same rows save the same bytes (dvc.lock repeats), which joblib reads."""
    first, second = tmp_path / "first.joblib", tmp_path / "second.joblib"
    save_model(train(mixed_frame, make_params()), first)
    save_model(train(mixed_frame, make_params()), second)
    assert first.read_bytes() == second.read_bytes()
    assert len(joblib.load(first).predict(mixed_frame)) == 80
