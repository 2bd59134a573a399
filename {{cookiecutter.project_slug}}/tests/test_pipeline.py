"""The whole pipeline, stage by stage in memory, on the data named in params.yaml."""

import pandas as pd

from {{ cookiecutter.package_name }}.data import features_and_target
from {{ cookiecutter.package_name }}.params import load_params
from {{ cookiecutter.package_name }}.stages.evaluate import evaluate
from {{ cookiecutter.package_name }}.stages.ingest import ingest
from {{ cookiecutter.package_name }}.stages.profile import profile
from {{ cookiecutter.package_name }}.stages.split import split
from {{ cookiecutter.package_name }}.stages.train import train
from {{ cookiecutter.package_name }}.stages.validate import validate

# A floor well under what the default data reaches, to catch a broken pipeline.
FLOOR = {"roc_auc": 0.9, "r2": 0.3}


def test_pipeline_on_default_data(tmp_path) -> None:
    params = load_params()
    target = params.data.target
    raw = ingest(params.data.source)
    valid, _ = validate(raw, target, params.task, None, tmp_path / "schema.yaml")
    train_rows, test_rows = split(
        valid, target, params.task, params.split.test_size, params.split.seed
    )
    model = train(train_rows, params)
    scores, _ = evaluate(model, test_rows, params)
    for name, floor in FLOOR.items():
        if name in scores:
            assert scores[name] > floor
    test_features, _ = features_and_target(test_rows, target)
    predictions = pd.Series(model.predict(test_features))
    reference = profile(train_rows, target, predictions, params.task)
    assert reference["rows"] == len(train_rows)
    assert reference["predictions"]["count"] == len(test_rows)
