import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.stages.profile import profile


def test_profile_covers_every_feature_and_the_predictions(mixed_frame: pd.DataFrame) -> None:
    predictions = pd.Series([0, 1] * 40)
    reference = profile(mixed_frame, "target", predictions, "classification")
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
    assert reference["predictions"]["frequencies"] == {"0": 0.5, "1": 0.5}


def test_regression_profile_summarises_predictions_as_numbers(mixed_frame) -> None:
    reference = profile(mixed_frame, "target", pd.Series(range(80), dtype=float), "regression")
    assert reference["predictions"]["kind"] == "numeric"
    assert reference["predictions"]["count"] == 80
