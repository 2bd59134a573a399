"""Train and publish the serving benchmarks' models with the project's own pipeline.

Run inside a baked project with its environment:

    python serve_models.py <package> <out-folder> [model ...]

Everything goes through the project's command line, `<package>.cli.run(command, argv)`:
per model, the stages of dvc.yaml run in-process (as in bare_pipeline.py) in
<out>/work/<model>/, a folder with the project's dvc.yaml and a params.yaml that picks the
model and scikit-learn's breast cancer data; then `deploy` publishes the model to
<out>/registry (MODEL_REGISTRY) under the model's name. The models: logreg, a scaled
logistic regression, and forest, a 200-tree random forest, trained three times with other
seeds, so that its current version is the third and `rollback` in <out>/work/forest swaps
versions twice (benchmarks/serve.py). Also writes <out>/mlserver/<model>/model.joblib, the
same fitted pipeline for MLServer (its scikit-learn steps: the derive step that opens it
passes this data through), and request bodies with 1 and 100 rows for both APIs.
Naming models makes only those (default: all).
"""

import importlib
import json
import os
import shutil
import sys
from pathlib import Path

import joblib
import yaml
from bare_pipeline import plan, run
from sklearn.datasets import load_breast_cancer

# name: (train.estimator, its section train.<estimator>, train.seed of each published version)
MODELS = {
    "logreg": ("linear", {}, (42,)),
    "forest": ("random_forest", {"n_estimators": 200}, (42, 43, 44)),
}


def main(package: str, out: Path, names: list[str]) -> None:
    out = out.resolve()
    stages = plan()
    params = yaml.safe_load(Path("params.yaml").read_text())
    cli = importlib.import_module(f"{package}.cli")
    home = Path.cwd()
    os.environ["MODEL_REGISTRY"] = str(out / "registry")
    for name in names or MODELS:
        estimator, settings, seeds = MODELS[name]
        work = out / "work" / name
        work.mkdir(parents=True)
        shutil.copy("dvc.yaml", work)  # the stages' paths, which deploy reads too
        for seed in seeds:
            chosen = {
                **params,
                "task": "classification",
                "data": {**params["data"], "source": "sklearn:breast_cancer", "target": "target"},
                "train": {**params["train"], "estimator": estimator, "seed": seed},
                # Permutation importance only slows this down; what is served is the model.
                "evaluate": {**params["evaluate"], "importance_repeats": 1},
                # Every version passes the gate, so each seed publishes one.
                "deploy": {**params["deploy"], "model_name": name, "tolerance": 1.0},
            }
            chosen["train"][estimator] = settings
            (work / "params.yaml").write_text(yaml.safe_dump(chosen, sort_keys=False))
            run(stages, package, work)
            os.chdir(work)
            cli.run("deploy", [])
            os.chdir(home)
        (model,) = work.rglob("*.joblib")  # the pipeline's fitted model
        (out / "mlserver" / name).mkdir(parents=True, exist_ok=True)
        # MLServer's environment lacks this project, whose derive step (a pass-through on
        # this data) opens the pipeline: it serves the scikit-learn steps after it.
        joblib.dump(joblib.load(model)[1:], out / "mlserver" / name / "model.joblib")
    features = load_breast_cancer(as_frame=True).frame.drop(columns="target")
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
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
