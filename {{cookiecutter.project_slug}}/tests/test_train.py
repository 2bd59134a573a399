import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.pipeline import metrics
from {{ cookiecutter.package_name }}.stages.train import train

from .conftest import make_params

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
    with pytest.raises(PipelineError, match=r"train.params.*n_trees"):
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
    model = train(mixed_frame, make_params())
    assert seen == [-1]
    assert model[-1].n_jobs is None


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
