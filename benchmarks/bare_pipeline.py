"""The pipeline's work in one process with no DVC: the baseline benchmarks/pipeline.py times.

Run inside a baked project with its environment: python bare_pipeline.py <package_name>.
It loads, validates, splits, fits, scores and profiles with the project's own functions,
and writes the same files, so the difference to `dvc repro` is DVC's and the processes' cost.
"""

import importlib
import json
import sys
from pathlib import Path

import joblib


def main(package: str) -> None:
    def stage(name: str):
        return importlib.import_module(f"{package}.stages.{name}")

    params = importlib.import_module(f"{package}.params").load_params()
    write_table = importlib.import_module(f"{package}.data").write_table
    out = Path("scratch/bare")
    target = params.data.target
    raw = stage("ingest").ingest(params.data.source)
    write_table(raw, out / "raw.parquet")
    valid, _ = stage("validate").validate(raw, target, params.task, None, out / "schema.yaml")
    write_table(valid, out / "validated.parquet")
    train, test = stage("split").split(
        valid, target, params.task, params.split.test_size, params.split.seed
    )
    write_table(train, out / "train.parquet")
    write_table(test, out / "test.parquet")
    model = stage("train").train(train, params)
    joblib.dump(model, out / "model.joblib")
    scores, _ = stage("evaluate").evaluate(model, test, params)
    reference = stage("profile").profile(train, target)
    (out / "metrics.json").write_text(json.dumps(scores))
    (out / "profile.json").write_text(json.dumps(reference))
    print(json.dumps(scores))


if __name__ == "__main__":
    main(sys.argv[1])
