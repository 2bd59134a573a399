import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.pipeline import profiling, tables
from {{ cookiecutter.package_name }}.stages.profile import profile
from {{ cookiecutter.package_name }}.stages.train import train

from .conftest import make_params, small_frame

pytestmark = pytest.mark.machinery


def whole(frame: pd.DataFrame) -> tables.Table:
    return tables.from_frame(frame)


def in_parts(frame: pd.DataFrame, folder, rows: int = 25) -> tables.Table:
    """The frame as a dataset of Parquet files of `rows` rows each."""
    for number, start in enumerate(range(0, len(frame), rows)):
        frame.iloc[start : start + rows].to_parquet(folder / f"part-{number:05d}.parquet")
    return tables.open_table(folder)


def test_profile_covers_every_feature_and_the_predictions(mixed_frame: pd.DataFrame) -> None:
    params = make_params()
    model = train(mixed_frame, params)
    reference = profile(model, whole(mixed_frame), whole(mixed_frame), params)
    assert reference["rows"] == len(mixed_frame)
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


def test_a_whole_column_gives_numpys_own_statistics() -> None:
    """The summable form loses nothing when one partition holds all: mean, standard
    deviation, deciles and CDF are what numpy computes on the column."""
    values = pd.Series(np.random.default_rng(5).lognormal(3, 1, 997)).where(lambda v: v < 80)
    summary = profiling.numeric_summary(values)
    present = np.sort(values.dropna().to_numpy())
    assert summary["mean"] == present.mean() and summary["std"] == present.std(ddof=1)
    deciles = np.unique(np.quantile(present, np.linspace(0, 1, 11)))[1:-1]
    assert summary["edges"] == deciles.tolist()
    cdf = np.searchsorted(present, summary["ecdf"]["points"], "right") / len(present)
    assert summary["ecdf"]["cdf"] == cdf.tolist()
    assert summary["missing_rate"] == values.isna().mean()


def test_partitions_sum_to_the_profile_of_the_whole(mixed_frame, tmp_path) -> None:
    """Counts on the same grid add up: the profile of a dataset in four files is the profile
    of its rows in one frame (means and deviations to the last few bits)."""
    params = make_params()
    model = train(mixed_frame, params)
    one = profile(model, whole(mixed_frame), whole(mixed_frame), params)
    four = profile(model, in_parts(mixed_frame, tmp_path), whole(mixed_frame), params)
    for name, summary in one["features"].items():
        parted = four["features"][name]
        for key in ("mean", "std"):
            if key in summary:
                assert parted.pop(key) == pytest.approx(summary.pop(key), rel=1e-12)
        assert parted == summary
    assert four["rows"] == one["rows"]


def test_the_grid_comes_from_a_sample_of_big_data(monkeypatch, mixed_frame) -> None:
    """Above SAMPLE_ROWS the edges come from a sample, the counts still from every row."""
    monkeypatch.setattr(profiling, "SAMPLE_ROWS", 40)
    params = make_params()
    model = train(mixed_frame, params)
    reference = profile(model, whole(mixed_frame), whole(mixed_frame), params)
    size = reference["features"]["size"]
    assert size["count"] == mixed_frame["size"].notna().sum()
    assert size["edges"] != profiling.numeric_summary(mixed_frame["size"])["edges"]
    assert sum(size["shares"]) == pytest.approx(1)


def test_rare_categories_beyond_the_counted_are_pooled(monkeypatch) -> None:
    monkeypatch.setattr(profiling, "COUNTED", 3)
    monkeypatch.setattr(profiling, "TOP_CATEGORIES", 2)
    values = pd.Series([*"aaaabbbccd", None])
    summary = profiling.categorical_summary(values)
    assert summary["frequencies"] == {"a": 0.4, "b": 0.3, profiling.OTHER: 0.3}
    assert summary["count"] == 10 and summary["missing_rate"] == 1 / 11


def test_profile_follows_the_model_not_the_table(mixed_frame: pd.DataFrame) -> None:
    """Columns the model never saw are left out: a stage before train may have dropped them."""
    params = make_params()
    model = train(mixed_frame.drop(columns=["count"]), params)
    reference = profile(model, whole(mixed_frame), whole(mixed_frame), params)
    assert set(reference["features"]) == {"size", "colour"}


def test_regression_profile_summarises_predictions_as_numbers(regression_frame) -> None:
    params = make_params("regression", "linear")
    model = train(regression_frame, params)
    reference = profile(model, whole(regression_frame), whole(regression_frame), params)
    assert reference["predictions"]["kind"] == "numeric"
    assert reference["predictions"]["count"] == 80


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_dask_engine_gives_the_same_profile(dask_client, tmp_path, task) -> None:
    dask_tables = pytest.importorskip("{{ cookiecutter.package_name }}.pipeline.dask_tables")
    frame = small_frame(task)
    params = make_params(task, "random_forest")
    model = train(frame, params)
    local = profile(model, in_parts(frame, tmp_path), whole(frame), params)
    parted = dask_tables.open_table(tmp_path)
    assert profile(model, parted, dask_tables.from_frame(frame), params) == local
    one = profile(model, whole(frame), whole(frame), params)
    single = dask_tables.from_frame(frame)
    assert profile(model, single, single, params) == one
