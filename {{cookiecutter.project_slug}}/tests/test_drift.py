"""The drift rules' power and false-alarm rate, on data whose distribution is known."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.monitoring import drift
from {{ cookiecutter.package_name }}.monitoring.drift import column_counts, column_drift
from {{ cookiecutter.package_name }}.params import MonitorParams
from {{ cookiecutter.package_name }}.pipeline.profiling import categorical_summary, numeric_summary

pytestmark = pytest.mark.machinery

RULES = MonitorParams()


def draw(seed: int, rows: int) -> pd.DataFrame:
    """Rows from one fixed 'training' distribution: numbers of three shapes and a category."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "normal": rng.normal(10, 2, rows),
            "skewed": rng.exponential(3, rows),
            "count": rng.poisson(4, rows).astype(float),
            "colour": rng.choice(["red", "green", "blue", "grey"], rows, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


@pytest.fixture(scope="module")
def reference() -> dict:
    training = draw(seed=10_000, rows=2000)
    return {
        name: categorical_summary(column) if name == "colour" else numeric_summary(column)
        for name, column in training.items()
    }


def flagged(reference: dict, batch: pd.DataFrame) -> dict[str, list[str]]:
    alpha = RULES.p_value / len(reference)
    results = {
        name: column_drift(ref, column_counts(ref, batch[name]), RULES, alpha)
        for name, ref in reference.items()
    }
    return {name: result["reasons"] for name, result in results.items() if result["drifted"]}


@pytest.mark.parametrize("seed", range(10))
def test_half_a_standard_deviation_shift_in_one_feature_is_flagged(reference, seed) -> None:
    batch = draw(seed, 1000)
    batch["normal"] += 0.5 * 2
    assert list(flagged(reference, batch)) == ["normal"]


@pytest.mark.parametrize("seed", range(10))
def test_a_new_category_is_flagged(reference, seed) -> None:
    batch = draw(seed, 1000)
    batch.loc[:49, "colour"] = "purple"  # 5% of the rows
    reasons = flagged(reference, batch)
    assert list(reasons) == ["colour"]
    assert any("unseen categories" in r and "'purple'" in r for r in reasons["colour"])


def test_a_jump_in_missing_values_is_flagged(reference) -> None:
    batch = draw(1, 1000)
    batch.loc[:199, "skewed"] = np.nan  # 20% missing, none in training
    assert "missing rate" in flagged(reference, batch)["skewed"][-1]


def test_false_alarms_stay_under_five_percent(reference) -> None:
    """Batches from the training distribution itself: the family-wise level holds."""
    alarms = [seed for seed in range(100) if flagged(reference, draw(seed, 1000))]
    assert len(alarms) <= 5, f"{len(alarms)} of 100 clean batches flagged: seeds {alarms}"


def test_shares_and_psi_are_zero_for_the_reference_itself() -> None:
    training = draw(seed=3, rows=500)
    summary = numeric_summary(training["normal"])
    result = column_drift(summary, column_counts(summary, training["normal"]), RULES, 0.01)
    assert result["psi"] == pytest.approx(0, abs=1e-9)
    assert result["statistic"] == pytest.approx(0, abs=1e-9)
    assert not result["drifted"]


@pytest.mark.parametrize("name", ["normal", "count", "colour"])
def test_counts_of_partitions_add_up_to_the_counts_of_the_whole(reference, name) -> None:
    """A batch counted in chunks gives the same statistics as counted at once."""
    batch = draw(7, 1000)
    batch.loc[:30, "colour"] = "purple"
    batch.loc[::13, name] = None
    summary = reference[name]
    chunks = [column_counts(summary, batch[name].iloc[i : i + 300]) for i in range(0, 1000, 300)]
    merged = column_drift(summary, drift.merge_counts(chunks), RULES, 0.01)
    at_once = column_drift(summary, column_counts(summary, batch[name]), RULES, 0.01)
    if "mean" in at_once:
        assert merged.pop("mean")["batch"] == pytest.approx(at_once.pop("mean")["batch"])
    assert merged == at_once


def test_the_batch_cdf_counts_values_at_or_below_each_point(reference) -> None:
    """Counting by place among the points is the sorted batch's CDF, ties included."""
    summary = reference["count"]  # Poisson counts: many values equal to a point
    batch = draw(3, 500)["count"]
    points = summary["ecdf"]["points"]
    expected = np.searchsorted(np.sort(batch.to_numpy()), points, side="right")
    assert column_counts(summary, batch)["at_or_below"] == expected.tolist()
