"""Train the two benchmark models and write what both servers need (run in a baked project).

    python serve_models.py <package> <out-folder>

Writes, per model (logreg: scaled logistic regression; forest: 200-tree random forest):
<out>/registry/<model>/... (a published version for this project's server),
<out>/mlserver/<model>/model.joblib (the same fitted pipeline for MLServer), and request
bodies with 1 and 100 rows for both APIs.
"""

import importlib
import json
import sys
from pathlib import Path

import joblib
import pandas as pd

MODELS = {"logreg": ("linear", {}), "forest": ("random_forest", {"n_estimators": 200})}


def main(package: str, out: Path) -> None:
    def module(name: str):
        return importlib.import_module(f"{package}.{name}")

    params = module("params").load_params()
    bundle, registry = module("bundle"), module("registry")
    features_and_target = module("data").features_and_target
    frame = module("stages.ingest").ingest("sklearn:breast_cancer")
    train, test = module("stages.split").split(frame, "target", "classification", 0.2, 0)
    features, _ = features_and_target(test, "target")
    for name, (estimator, settings) in MODELS.items():
        chosen = params.model_copy(
            update={
                "train": params.train.model_copy(
                    update={"estimator": estimator, "params": settings}
                )
            }
        )
        model = module("stages.train").train(train, chosen)
        predictions = pd.Series(model.predict(features))
        reference = module("stages.profile").profile(train, "target", predictions, params.task)
        profile = json.dumps(reference).encode()
        files, manifest = bundle.build(model, features, profile, {"metrics": {}})
        store = registry.Registry(str(out / "registry"), name)
        store.promote(store.publish(files, manifest, "bench"))
        (out / "mlserver" / name).mkdir(parents=True, exist_ok=True)
        joblib.dump(model, out / "mlserver" / name / "model.joblib")
    for rows in (1, 100):
        batch = features.sample(rows, replace=True, random_state=0)
        records = json.loads(batch.to_json(orient="records"))
        (out / f"predict-{rows}.json").write_text(json.dumps({"records": records}))
        inputs = [
            {"name": column, "shape": [rows], "datatype": "FP64", "data": batch[column].tolist()}
            for column in batch.columns
        ]
        v2 = {"parameters": {"content_type": "pd"}, "inputs": inputs}
        (out / f"v2-{rows}.json").write_text(json.dumps(v2))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
