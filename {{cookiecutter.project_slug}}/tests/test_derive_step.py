"""The model's derive step: features made inside the model, held to derive.py's rules, and
a model refused by code whose derive.py differs from the one it was trained with."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.deploy import bundle
from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.pipeline import derivation, derive, tables
from {{ cookiecutter.package_name }}.pipeline.features import input_types
from {{ cookiecutter.package_name }}.stages.profile import profile
from {{ cookiecutter.package_name }}.stages.train import train

from .conftest import make_params, publish_tiny

pytestmark = pytest.mark.machinery


def with_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(ratio=frame["size"] / frame["count"]).drop(columns="colour")


def test_the_model_takes_raw_columns_and_derives_the_rest(mixed_frame, monkeypatch) -> None:
    monkeypatch.setattr(derive, "derive", with_ratio)
    model = train(mixed_frame, make_params())
    assert list(model.feature_names_in_) == ["size", "count", "colour"]
    assert model.named_steps["derive"].features_out_ == ["size", "count", "ratio"]
    raw = mixed_frame.drop(columns="target")
    assert len(model.predict(raw)) == len(raw)  # count 0 makes an infinite ratio: missing
    assert np.isfinite(model[:-1].transform(raw)).all()


def test_a_request_gets_the_features_training_got(mixed_frame, monkeypatch) -> None:
    """An integer column reaches derive() as a float in training as in a request's rows,
    so text made of it reads the same ("2.0") and the model answers alike."""
    monkeypatch.setattr(derive, "derive", lambda frame: frame.assign(n=frame["count"].astype(str)))
    model = train(mixed_frame, make_params())
    raw = mixed_frame.drop(columns="target")
    features = input_types(raw)
    rows = [tuple(row[f["name"]] for f in features) for row in bundle.records(raw)]
    served = bundle.frame_from_rows(rows, features)
    assert model.predict_proba(served).tolist() == model.predict_proba(raw).tolist()
    assert model[:1].transform(served)["n"].tolist() == model[:1].transform(raw)["n"].tolist()


def test_the_profile_watches_the_raw_columns_the_features_keep(mixed_frame, monkeypatch):
    """A column derive() drops is an input (with its missing rate), never a drift statistic."""
    monkeypatch.setattr(derive, "derive", lambda frame: frame.drop(columns="colour"))
    params = make_params()
    model = train(mixed_frame, params)
    table = tables.from_frame(mixed_frame)
    reference = profile(model, table, table, params)
    assert sorted(reference["features"]) == ["count", "size"]
    inputs = {entry["name"]: entry for entry in reference["inputs"]}
    assert list(inputs) == ["size", "count", "colour"]
    assert inputs["colour"]["type"] == "string" and inputs["colour"]["missing_rate"] > 0


def test_derive_must_return_the_same_columns_for_any_rows(mixed_frame, monkeypatch) -> None:
    def by_size(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(big=1.0) if len(frame) > 10 else frame

    monkeypatch.setattr(derive, "derive", by_size)
    model = train(mixed_frame, make_params())
    with pytest.raises(PipelineError, match="it must return the same columns for any rows"):
        model.predict(mixed_frame.drop(columns="target").head(1))


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda frame: frame["missing"], r"derive.py failed on the raw columns .*KeyError"),
        (lambda frame: frame.head(3), "a row for every row it gets - filter or deduplicate"),
        (
            lambda frame: frame.assign(when=pd.Timestamp(0)),
            r"returns column\(s\) 'when' \(a date\)",
        ),
    ],
    ids=["raises", "drops-rows", "leaves-a-date"],
)
def test_a_broken_derive_is_named(mixed_frame, monkeypatch, broken, message) -> None:
    monkeypatch.setattr(derive, "derive", broken)
    with pytest.raises(PipelineError, match=message):
        train(mixed_frame, make_params())


def test_dates_become_their_parts() -> None:
    if not hasattr(derive, "date_parts"):
        pytest.skip("derive.py no longer has the template's date_parts")
    frame = pd.DataFrame({"when": pd.to_datetime(["2024-03-01 09:30", None]), "n": [1, 2]})
    parts = derive.date_parts(frame)
    assert list(parts.columns) == ["n", *(f"when_{part}" for part in derive.DATE_PARTS)]
    assert parts.iloc[0].tolist() == [1, 2024, 3, 1, 4, 9]
    assert parts.iloc[1, 1:].isna().all()


def test_a_model_of_other_derive_code_is_refused(registry: Registry, mixed_frame, monkeypatch):
    """Served, scored, monitored or promoted, a version trained with another derive.py is
    refused in one line naming both hashes and what to do."""
    version = publish_tiny(registry, mixed_frame)
    trained = derivation.code_hash()
    monkeypatch.setattr(derivation, "code_hash", lambda: "0123456789ab")
    manifest = registry.manifest(version)
    files = {name: registry.read(version, name) for name in manifest["sha256"]}
    with pytest.raises(PipelineError) as refused:
        bundle.check_and_load(manifest, files)
    message = str(refused.value)
    assert f"was trained with derive code {trained}" in message
    assert "derive.py is 0123456789ab - retrain (`make repro`) and deploy" in message
    assert "\n" not in message
