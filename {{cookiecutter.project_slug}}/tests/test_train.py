import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
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
