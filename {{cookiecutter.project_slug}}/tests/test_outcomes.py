"""Prediction ids, outcomes and the live performance joined from them."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from {{ cookiecutter.package_name }}.errors import UnusableInput
from {{ cookiecutter.package_name }}.monitoring import outcomes, performance
from {{ cookiecutter.package_name }}.monitoring.outcomes import (
    OutcomeError,
    PredictionIds,
    checked,
    folder_key,
)

pytestmark = pytest.mark.machinery


def test_ids_are_unique_and_only_the_folders_key_recognises_them(tmp_path) -> None:
    ids = PredictionIds(folder_key(tmp_path))
    issued = ids.new(3) + ids.new(3)
    assert len(set(issued)) == 6 and issued[0].endswith("-0") and issued[5].endswith("-2")
    assert all(map(ids.issued, issued))
    assert PredictionIds(folder_key(tmp_path)).issued(issued[0]), "the key is kept on disk"
    assert oct((tmp_path / outcomes.KEY_FILE).stat().st_mode & 0o777) == "0o600"
    other = PredictionIds(b"k" * 32)
    assert not other.issued(issued[0])
    forged = issued[0][:-8] + "00000000-0"
    for wrong in (forged, "abc-1", "", 7, None, issued[0] + "x", issued[0] * 3):
        assert not ids.issued(wrong), wrong


def test_a_damaged_key_is_refused_not_replaced(tmp_path) -> None:
    (tmp_path / outcomes.KEY_FILE).write_bytes(b"short")
    with pytest.raises(Exception, match="is not a prediction-id key"):
        folder_key(tmp_path)
    assert (tmp_path / outcomes.KEY_FILE).read_bytes() == b"short"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "non-empty list"),
        ({"prediction_id": "x"}, "non-empty list"),
        ([{"prediction_id": "nope-0", "label": 1}], "not an id this server issued"),
        ([{"id": "x", "label": 1}], "must be an object with prediction_id and label only"),
        ([{"ID": 0, "label": 1, "note": "x"}], "must be an object"),
        ([{"ID": 0, "label": True}], "cannot be true or false"),
        ([{"ID": 0, "label": "1"}], "not one of the model's classes"),
        ([{"ID": 0, "label": 1}, {"ID": 0, "label": 1}], "in this request twice"),
        ([{"ID": 0, "label": 1}] * 3, "over the limit of 2"),
    ],
)
def test_feedback_items_are_checked(tmp_path, items, message) -> None:
    ids = PredictionIds(folder_key(tmp_path))
    issued = ids.new(2)
    if isinstance(items, list):  # "ID": n stands for the n-th issued id
        items = [
            {"prediction_id": issued[item.pop("ID")], **item} if "ID" in item else item
            for item in (dict(item) for item in items)
        ]
    with pytest.raises(OutcomeError, match=message):
        checked(items, ids, classes=[0, 1], max_rows=2)


def test_a_regressors_label_is_a_finite_number(tmp_path) -> None:
    ids = PredictionIds(folder_key(tmp_path))
    [one] = ids.new(1)
    assert checked([{"prediction_id": one, "label": 2.5}], ids, None, 10) == [(one, 2.5)]
    for label in ("2.5", float("nan"), None):
        with pytest.raises(OutcomeError, match="not a finite number"):
            checked([{"prediction_id": one, "label": label}], ids, None, 10)


def log_lines(folder, ids: list[str], version: str, predicted, probabilities=None) -> None:
    outputs = {"predictions": list(predicted)}
    if probabilities is not None:
        outputs["probabilities"] = probabilities
    line = {"time": 1.0, "model_version": version, "prediction_ids": ids, "outputs": outputs}
    with (folder / "predictions.jsonl").open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def test_the_join_keeps_the_first_outcome_per_id_and_counts_strangers(tmp_path) -> None:
    ids = PredictionIds(folder_key(tmp_path))
    first, second = ids.new(2), ids.new(2)
    log_lines(tmp_path, first, "0001-a", [0, 1])
    log_lines(tmp_path, second, "0002-b", [1, 1])
    (tmp_path / "predictions.jsonl").open("a").write('{"half a line\n')
    pairs = [(first[0], 0), (first[1], 0), (second[0], 1), (ids.new(1)[0], 1)]
    (tmp_path / "outcomes.jsonl").write_bytes(outcomes.lines(pairs, 5.0))
    (tmp_path / "outcomes-later.jsonl").write_bytes(outcomes.lines([(first[0], 1)], 9.0))
    assert outcomes.write_bulk(tmp_path, [(first[0], 1)]) == (None, 0), "stored already"
    logged = performance.logged_predictions(tmp_path, since=None)
    known = performance.stored_outcomes(tmp_path)
    joined = logged.merge(known, on="prediction_id")
    assert len(logged) == 4 and len(joined) == 3
    assert joined.set_index("prediction_id").loc[first[0], "actual"] == 0, "the first one counts"
    assert performance.logged_predictions(tmp_path, since=2.0).empty


def test_live_metrics_are_sklearns_with_an_interval_around_them() -> None:
    rng = np.random.default_rng(1)
    actual = rng.integers(0, 2, 400)
    scores = actual * 0.3 + rng.random(400) * 0.7  # right about 4 times in 5
    predicted = (scores > 0.5).astype(int)
    probabilities = np.column_stack([1 - scores, scores])
    result = performance.with_intervals(actual, predicted, probabilities, [0, 1])
    assert result["accuracy"]["value"] == metrics.accuracy_score(actual, predicted)
    assert result["f1"]["value"] == metrics.f1_score(actual, predicted)
    assert result["roc_auc"]["value"] == metrics.roc_auc_score(actual, scores)
    for entry in result.values():
        assert entry["low"] <= entry["value"] <= entry["high"]
    narrow = performance.with_intervals(
        np.tile(actual, 10), np.tile(predicted, 10), np.tile(probabilities, (10, 1)), [0, 1]
    )
    width = result["accuracy"]["high"] - result["accuracy"]["low"]
    assert narrow["accuracy"]["high"] - narrow["accuracy"]["low"] < width / 2
    regression = performance.with_intervals(actual * 1.0, scores, None, None)
    assert regression["r2"]["value"] == metrics.r2_score(actual, scores)
    assert list(regression) == ["rmse", "mae", "r2"]


def test_a_report_per_version_beside_its_offline_metric(tmp_path, registry, monkeypatch) -> None:
    from .conftest import make_params, publish_tiny, small_frame

    frame = small_frame()
    version = publish_tiny(registry, frame)
    monkeypatch.setattr(performance, "registry", lambda params: registry)
    ids = PredictionIds(folder_key(tmp_path))
    issued = ids.new(40)
    predicted = [i % 2 for i in range(40)]
    log_lines(tmp_path, issued, version, predicted)
    actual = [0] * 40
    (tmp_path / "outcomes.jsonl").write_bytes(
        outcomes.lines(list(zip(issued, actual, strict=True)), 2.0)
    )
    report = performance.performance(tmp_path, params=make_params())
    entry = report["versions"][version]
    assert entry["rows_with_outcomes"] == 40
    assert entry["metrics"]["accuracy"] == {
        "value": 0.5,
        "low": pytest.approx(entry["metrics"]["accuracy"]["low"]),
        "high": pytest.approx(entry["metrics"]["accuracy"]["high"]),
        "offline": 0.9,
    }
    assert "roc_auc" not in entry["metrics"], "no probabilities were logged, one class came back"
    written = performance.write(report, tmp_path / "reports")
    assert json.loads(written[0].read_text())["versions"][version]["rows_with_outcomes"] == 40
    assert "| accuracy | 0.5000 |" in written[1].read_text()  # the pull request's section
    assert "Live performance" in written[2].read_text()
    params = make_params()
    assert performance.drop(report, version, params) is None, "40 rows: under min_rows"
    few = params.model_copy(update={"monitor": params.monitor.model_copy(update={"min_rows": 40})})
    assert "dropped: 0.5000 on 40 rows, against 0.9000" in performance.drop(report, version, few)
    assert performance.drop(report, "0009-other", few) is None


def test_since_must_be_a_date() -> None:
    assert performance.moment("2026-12-01") == pd.Timestamp("2026-12-01", tz="UTC").timestamp()
    with pytest.raises(UnusableInput, match="is not a date or time"):
        performance.moment("yesterday")
