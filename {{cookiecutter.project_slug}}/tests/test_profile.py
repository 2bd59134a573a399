import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.stages.profile import profile
from {{ cookiecutter.package_name }}.stages.train import train

from .conftest import make_params


def test_profile_covers_every_feature_and_the_predictions(mixed_frame: pd.DataFrame) -> None:
    params = make_params()
    reference = profile(train(mixed_frame, params), mixed_frame, mixed_frame, params)
    assert set(reference["features"]) == {"size", "count", "colour"}
    size = reference["features"]["size"]
    assert size["kind"] == "numeric"
    assert sum(size["shares"]) == pytest.approx(1)
    assert size["missing_rate"] == pytest.approx(mixed_frame["size"].isna().mean())
    assert size["ecdf"]["cdf"][-1] == pytest.approx(1)
    assert size["ecdf"]["points"] == sorted(size["ecdf"]["points"])
    colour = reference["features"]["colour"]
    assert set(colour["frequencies"]) == {"red", "green", "blue"}
    assert sum(colour["frequencies"].values()) == pytest.approx(1)
    assert colour["seen"] == ["blue", "green", "red"]
    predicted = reference["predictions"]
    assert set(predicted["frequencies"]) <= {"0", "1"} and predicted["count"] == 80


def test_profile_follows_the_model_not_the_table(mixed_frame: pd.DataFrame) -> None:
    """Columns the model never saw are left out: a stage before train may have dropped them."""
    params = make_params()
    model = train(mixed_frame.drop(columns=["count"]), params)
    reference = profile(model, mixed_frame, mixed_frame, params)
    assert set(reference["features"]) == {"size", "colour"}


def test_regression_profile_summarises_predictions_as_numbers(regression_frame) -> None:
    params = make_params("regression", "linear")
    reference = profile(train(regression_frame, params), regression_frame, regression_frame, params)
    assert reference["predictions"]["kind"] == "numeric"
    assert reference["predictions"]["count"] == 80
