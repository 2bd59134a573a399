import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.stages.split import split

from .conftest import make_params


def test_split_is_stratified_and_repeatable(mixed_frame: pd.DataFrame) -> None:
    params = make_params(test_size=0.25, seed=3)
    train, test = split(mixed_frame, params)
    again, _ = split(mixed_frame, params)
    assert len(test) == 20
    assert len(train) + len(test) == len(mixed_frame)
    pd.testing.assert_frame_equal(train, again)
    share = mixed_frame["target"].mean()
    assert abs(test["target"].mean() - share) < 0.05


def test_too_few_rows_is_explained(mixed_frame: pd.DataFrame) -> None:
    with pytest.raises(PipelineError, match="cannot split"):
        split(mixed_frame.head(3), make_params(test_size=0.1))
