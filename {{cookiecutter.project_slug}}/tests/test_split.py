from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.pipeline.tables import from_frame, open_table
from {{ cookiecutter.package_name }}.stages.split import held_out, split

from .conftest import in_parts, make_params

pytestmark = pytest.mark.machinery


def sides(table, params) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = split(table, params)
    return train.to_pandas(), test.to_pandas()


def test_split_is_repeatable_and_complete(mixed_frame: pd.DataFrame) -> None:
    """About test_size of the rows are held out, each row on one side, the same each time."""
    params = make_params(test_size=0.25, seed=3)
    train, test = sides(from_frame(mixed_frame), params)
    again, _ = sides(from_frame(mixed_frame), params)
    pd.testing.assert_frame_equal(train, again)
    assert 10 <= len(test) <= 30
    columns = list(mixed_frame.columns)
    both = pd.concat([train, test]).sort_values(columns, ignore_index=True)
    pd.testing.assert_frame_equal(both, mixed_frame.sort_values(columns, ignore_index=True))


def test_regression_rows_split(regression_frame: pd.DataFrame) -> None:
    """Without classes, every row is counted on one side or the other."""
    train, test = sides(from_frame(regression_frame), make_params("regression"))
    assert len(train) + len(test) == len(regression_frame)
    assert len(test) > 0


def test_seed_changes_the_rows(mixed_frame: pd.DataFrame) -> None:
    _, test = sides(from_frame(mixed_frame), make_params(seed=3))
    _, other = sides(from_frame(mixed_frame), make_params(seed=4))
    assert not test.equals(other)


def test_split_does_not_depend_on_partitions(mixed_frame, tmp_path: Path) -> None:
    """A row's side comes from its values and the seed: one partition or four, the same
    rows on each side, in the same order."""
    params = make_params(test_size=0.3, seed=5)
    whole = sides(from_frame(mixed_frame), params)
    parts = sides(open_table(in_parts(mixed_frame, tmp_path / "parts", 4)), params)
    for one, four in zip(whole, parts, strict=True):
        pd.testing.assert_frame_equal(one, four)


def test_empty_side_is_explained(mixed_frame: pd.DataFrame) -> None:
    """Too few rows for split.test_size: the message names it and the row count."""
    with pytest.raises(PipelineError, match=r"cannot split 3 rows with split.test_size=0.01"):
        split(from_frame(mixed_frame.head(3)), make_params(test_size=0.01))


def test_class_without_training_rows_is_named(mixed_frame: pd.DataFrame) -> None:
    """A class whose rows all fall in the test set cannot be learnt: it is named."""
    params = make_params(test_size=0.25, seed=3)
    relabelled = mixed_frame.assign(target=7)
    first_held_out = held_out(relabelled, 3, 0.25).idxmax()  # its side follows its values
    frame = mixed_frame.copy()
    frame.loc[first_held_out, "target"] = 7
    with pytest.raises(PipelineError, match=r"class\(es\) 7 of target 'target' have no training"):
        split(from_frame(frame), params)
