"""The tests' own harness: scikit-learn's filter race is the one warning not reported."""

import warnings

import pytest

from .conftest import SKLEARN_FILTER_RACE

pytestmark = pytest.mark.machinery


def test_only_sklearns_filter_race_goes_unrecorded(monkeypatch) -> None:
    recorded: list = []
    monkeypatch.setattr(warnings, "_showwarnmsg_impl", recorded.append)
    warnings.showwarning(f"{SKLEARN_FILTER_RACE} Parallel", UserWarning, "parallel.py", 144)
    warnings.showwarning("any other", UserWarning, "elsewhere.py", 1)
    assert [str(record.message) for record in recorded] == ["any other"]
