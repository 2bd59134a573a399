"""Slow tier: the retraining loop in a baked project, as its users and scheduled CI run it.

The project reads its data from a CSV outside the repository (as a URL would be), so new
rows arrive without a commit. In order: `make monitor` on clean, shifted and unrelated
batches; `make drift-check` with no new data, then with drifted rows in the source
(retrain and a pull-request body); `make retrain` on the new data with a deploy.
"""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from .conftest import bake, run

pytestmark = pytest.mark.slow  # make test keeps a module on one worker (--dist loadscope)
SHIFTED = ["mean radius", "mean texture", "worst area"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A default bake reading an outside CSV of the breast-cancer data, run and committed."""
    root = bake(tmp_path_factory.mktemp("loop"))
    run("make install", root)
    source = root.parent / "source.csv"
    run(
        f".venv/bin/python -c 'import sys; from sklearn.datasets import load_breast_cancer; "
        f"load_breast_cancer(as_frame=True).frame.to_csv(sys.argv[1], index=False)' {source}",
        root,
    )
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("sklearn:breast_cancer", str(source)))
    run("make repro && git add --all && git commit --quiet -m 'Train on the outside CSV'", root)
    return root


def batches(project: Path) -> dict[str, Path]:
    """A sample of the test split, the same with three features shifted, unrelated columns."""
    test = pd.read_parquet(project / "data/processed/test.parquet")
    sample = test.sample(100, random_state=0)
    shifted = sample.copy()
    for name in SHIFTED:
        shifted[name] += test[name].std()
    paths = {name: project.parent / f"{name}.csv" for name in ("sample", "shifted", "unrelated")}
    sample.to_csv(paths["sample"], index=False)
    shifted.to_csv(paths["shifted"], index=False)
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_csv(paths["unrelated"], index=False)
    return paths


def test_monitor_passes_a_clean_sample_and_fails_shifted_or_unrelated(project: Path) -> None:
    paths = batches(project)
    clean = run(f"make monitor DATA={paths['sample']}", project)
    assert "No drift" in clean.stdout
    shifted = run(f"make monitor DATA={paths['shifted']}", project, check=False)
    assert shifted.returncode != 0
    report = json.loads((project / "reports/drift.json").read_text())
    assert set(SHIFTED) <= set(report["drifted_features"])
    for name in SHIFTED:
        assert f"{name}: distribution shifted" in shifted.stdout
    assert "<svg" in (project / "reports/drift.html").read_text()
    unrelated = run(f"make monitor DATA={paths['unrelated']}", project, check=False)
    assert unrelated.returncode != 0
    assert "the batch lacks 30 of the model's 30 input columns" in unrelated.stderr
    assert "its columns are: a, b" in unrelated.stderr
    assert not (project / "reports/drift.json").exists()


def test_drift_check_without_new_data_changes_nothing(project: Path) -> None:
    result = run("make drift-check BASE=HEAD", project)
    assert "No drift" in result.stdout
    assert not (project / "reports/pull-request.md").exists()
    assert run("git status --porcelain", project).stdout == ""


def test_drift_check_on_drifted_source_retrains_and_writes_the_pull_request(project) -> None:
    source = project.parent / "source.csv"
    original = source.read_text()
    rows = pd.read_csv(source)
    drifted = rows.sample(300, random_state=1)
    for name in SHIFTED:
        drifted[name] += rows[name].std()
    pd.concat([rows, drifted]).to_csv(source, index=False)
    result = run("make drift-check BASE=HEAD", project)
    assert "DRIFT" in result.stdout and "reports/pull-request.md is ready" in result.stdout
    body = (project / "reports/pull-request.md").read_text()
    assert "## Drift report" in body and "## Model report" in body
    assert re.search(r"roc_auc\s*\|\s*[\d.]+\s*\|\s*[\d.]+", body), body
    assert "No parameter changed." in body
    assert "## Model card\n\nproduction serves" in body  # what it serves now, or nothing yet
    assert "dvc.lock" in run("git status --porcelain", project).stdout  # retrained
    run("git checkout --quiet -- . && .venv/bin/dvc checkout --quiet", project)
    source.write_text(original)


def test_retrain_on_new_data_deploys_when_the_gate_passes(project: Path) -> None:
    registry = project.parent / "registry"
    env = {"MODEL_REGISTRY": str(registry)}
    run("make deploy", project, env=env)
    source = project.parent / "source.csv"
    rows = pd.read_csv(source)
    more = rows.sample(200, random_state=2)
    more["mean radius"] += rows["mean radius"].std() / 2
    pd.concat([rows, more]).to_csv(source, index=False)
    # An outside source is not a DVC dependency: `make retrain` after forcing ingest.
    run(". .venv/bin/activate && dvc repro --force --single-item ingest", project)
    result = run("make retrain", project, env=env)
    assert "Running stage 'train'" in result.stdout
    assert "deployed version 0002-" in result.stdout
    listing = run("make models", project, env=env).stdout
    assert re.search(r"^\* 0002-", listing, re.M) and re.search(r"^  0001-", listing, re.M)
