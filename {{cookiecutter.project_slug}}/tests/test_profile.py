import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.stages.profile import profile


def test_profile_covers_every_feature(mixed_frame: pd.DataFrame) -> None:
    reference = profile(mixed_frame, "target")
    assert set(reference["features"]) == {"size", "count", "colour"}
    size = reference["features"]["size"]
    assert size["kind"] == "numeric"
    assert sum(size["shares"]) == pytest.approx(1)
    assert size["missing_rate"] == pytest.approx(mixed_frame["size"].isna().mean())
    colour = reference["features"]["colour"]
    assert set(colour["frequencies"]) == {"red", "green", "blue"}
    assert sum(colour["frequencies"].values()) == pytest.approx(1)
