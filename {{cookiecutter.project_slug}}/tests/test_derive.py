"""Your derive.py on rows like yours: the rules that let the model run it anywhere."""

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.deploy import bundle
from {{ cookiecutter.package_name }}.pipeline.data import features_and_target
from {{ cookiecutter.package_name }}.pipeline.derivation import check_usable, derived
from {{ cookiecutter.package_name }}.pipeline.features import input_types

from .project_data import project_frame, project_params

pytestmark = pytest.mark.project_data


@pytest.fixture
def raw() -> pd.DataFrame:
    """Your raw columns, as training hands them to the model."""
    return features_and_target(project_frame(), project_params()["data"]["target"])[0]


def test_every_feature_is_one_a_model_can_use(raw: pd.DataFrame) -> None:
    check_usable(derived(raw))


def test_a_row_gets_the_same_features_alone_as_among_others(raw: pd.DataFrame) -> None:
    """Row by row, as the server derives a request of one row."""
    whole = derived(raw)
    for row in range(3):
        alone = derived(raw.iloc[[row]])
        assert list(alone.columns) == list(whole.columns)
        pd.testing.assert_frame_equal(alone, whole.iloc[[row]], check_dtype=False)


def test_the_same_rows_give_the_same_features(raw: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(derived(raw), derived(raw.copy()))


def test_rows_sent_as_json_give_the_features_training_got(raw: pd.DataFrame) -> None:
    """What a request sends (numbers, text, ISO dates) reaches derive() in training's form:
    the same features, of the same types (an integer column is 4.0 in both, not 4 in one)."""
    inputs = input_types(raw)
    rows = [tuple(row[entry["name"]] for entry in inputs) for row in bundle.records(raw)]
    served = bundle.frame_from_rows(rows, inputs)
    pd.testing.assert_frame_equal(derived(served), derived(raw))
