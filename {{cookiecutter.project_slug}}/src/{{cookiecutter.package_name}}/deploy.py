"""Deploy, roll back and list model versions: the gate first, then publish and promote."""

import json
import logging
import os
import subprocess
from pathlib import Path

import joblib
import yaml

from . import bundle
from .data import features_and_target, read_table
from .errors import PipelineError
from .params import Params, load_params
from .registry import Registry

log = logging.getLogger(__name__)
LOWER_IS_BETTER = {"rmse", "mae"}
MODEL = Path("models/model.joblib")
PROFILE = Path("models/reference_profile.json")
METRICS = Path("reports/metrics.json")
TEST = Path("data/processed/test.parquet")


def registry(params: Params) -> Registry:
    """The registry named by MODEL_REGISTRY (unset or empty: registry/ in the project)."""
    return Registry(os.environ.get("MODEL_REGISTRY") or "registry", params.deploy.model_name)


def gate(metrics: dict, params: Params, production: dict | None) -> str:
    """Refuse a model under the threshold or worse than production beyond the tolerance."""
    rules = params.deploy
    if rules.metric not in metrics:
        raise PipelineError(
            f"deploy.metric {rules.metric!r} is not in {METRICS}: {', '.join(metrics)}"
        )
    score = metrics[rules.metric]
    sign = -1 if rules.metric in LOWER_IS_BETTER else 1
    if sign * (score - rules.threshold) < 0:
        raise PipelineError(
            f"gate: {rules.metric}={score:.4f} is {'above' if sign < 0 else 'under'} the threshold "
            f"{rules.threshold} in params.yaml (deploy) - the model is not deployed"
        )
    if production is not None:
        served = production["metrics"].get(rules.metric)
        if served is not None and sign * (score - served) < -rules.tolerance:
            raise PipelineError(
                f"gate: {rules.metric}={score:.4f} is worse than production version "
                f"{production['version']} ({served:.4f}) beyond the tolerance {rules.tolerance}"
            )
    return f"gate passed: {rules.metric}={score:.4f}"


def git_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "nogit"


def data_hash() -> str | None:
    """The DVC hash of the ingested data, from dvc.lock."""
    lock = Path("dvc.lock")
    if not lock.exists():
        return None
    outs = yaml.safe_load(lock.read_text())["stages"].get("ingest", {}).get("outs", [])
    return outs[0].get("md5") if outs else None


def deploy() -> str:
    """Gate, publish and promote the pipeline's model; say what happened."""
    params = load_params()
    store = registry(params)
    current = store.current()
    production = store.manifest(current) if current else None
    metrics = json.loads(METRICS.read_text())
    source = bundle.sha256(MODEL.read_bytes())
    if production and production.get("source_sha256") == source:
        return f"model unchanged: version {current} already serves it, nothing deployed"
    log.info(gate(metrics, params, production))
    test_features, _ = features_and_target(read_table(TEST), params.data.target)
    facts = {
        "source_sha256": source,
        "metrics": metrics,
        "params": params.model_dump(),
        "git_commit": git_commit(),
        "data_md5": data_hash(),
    }
    files, manifest = bundle.build(joblib.load(MODEL), test_features, PROFILE.read_bytes(), facts)
    version = store.publish(files, manifest, facts["git_commit"])
    store.promote(version)
    return f"deployed version {version} to {store.location}"


def rollback() -> str:
    store = registry(load_params())
    version = store.previous()
    store.promote(version)
    return f"rolled back to version {version}"


def models() -> str:
    """One line per version with its metrics; the current one marked with *."""
    params = load_params()
    store = registry(params)
    current = store.current()
    lines = []
    for version in store.versions():
        manifest = store.manifest(version)
        scores = " ".join(f"{k}={v:.4f}" for k, v in manifest["metrics"].items())
        lines.append(
            f"{'*' if version == current else ' '} {version}  {manifest['created']}  {scores}"
        )
    return "\n".join(lines) or f"no versions in {store.location} yet - run `make deploy`"
