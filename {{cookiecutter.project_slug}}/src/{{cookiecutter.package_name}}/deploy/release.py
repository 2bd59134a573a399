"""Deploy, roll back and list model versions: the gate first, then publish and promote."""

import argparse
import json
import logging
import os
import subprocess
from pathlib import Path

import joblib
import yaml

from ..errors import PipelineError
from ..params import Params, load_params
from ..pipeline.data import features_and_target, read_table
from ..pipeline.features import model_inputs
from ..products import product
from . import bundle
from .registry import Registry, RegistryError, checked

log = logging.getLogger(__name__)
LOWER_IS_BETTER = {"rmse", "mae"}


def registry(params: Params) -> Registry:
    """The registry named by MODEL_REGISTRY (unset or empty: registry/ in the project)."""
    return Registry(os.environ.get("MODEL_REGISTRY") or "registry", params.deploy.model_name)


def gate(metrics: dict, params: Params, production: dict | None) -> str:
    """Refuse a model under the threshold or worse than production beyond the tolerance."""
    rules = params.deploy
    if rules.metric not in metrics:
        raise PipelineError(
            f"deploy.metric {rules.metric!r} is not among the metrics: {', '.join(metrics)}"
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
    """The commit the workspace is at, with -dirty when tracked or new files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        status = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
    except FileNotFoundError:  # no git here
        return "nogit"
    if head.returncode != 0:
        return "nogit"
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def data_hash() -> str | None:
    """The DVC hash of the ingested data, from dvc.lock."""
    lock, raw = Path("dvc.lock"), product("raw").as_posix()
    if not lock.exists():
        return None
    for stage in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).values():
        for out in stage.get("outs", []):
            if out.get("path") == raw:
                return out.get("md5")
    return None


def deploy() -> str:
    """Gate, publish and promote the pipeline's model; say what happened."""
    params = load_params()
    store = registry(params)
    with store.lock():  # a second deploy waits, then finds the model already served
        return _deploy(params, store)


def _deploy(params: Params, store: Registry) -> str:
    current = store.current()
    production = store.manifest(current) if current else None
    model_file = product("model")
    metrics = json.loads(product("metrics").read_text())
    source = bundle.sha256(model_file.read_bytes())
    if production and production.get("source_sha256") == source:
        return f"model unchanged: version {current} already serves it, nothing deployed"
    log.info(gate(metrics, params, production))
    commit = git_commit()
    if commit.endswith("-dirty"):
        log.warning(
            "the workspace has uncommitted changes: the version is marked -dirty, as no commit "
            "holds the code and data that made it - commit, then `make deploy`, to avoid that"
        )
    model = joblib.load(model_file)
    test_features, _ = features_and_target(read_table(product("test")), params.data.target)
    facts = {
        "source_sha256": source,
        "metrics": metrics,
        "params": params.model_dump(),
        "git_commit": commit,
        "data_md5": data_hash(),
    }
    profile = product("profile").read_bytes()
    files, manifest = bundle.build(model, model_inputs(model, test_features), profile, facts)
    version = store.publish(files, manifest, commit)
    store.promote(version)
    return f"deployed version {version} to {store.location}"


def rollback(version: str | None = None) -> str:
    """Promote the version before the current one, or the version named."""
    if version is not None:
        checked(version, "rollback")
    store = registry(load_params())
    with store.lock():
        target = version or store.previous()
        store.promote(target)
    return f"rolled back to version {target}"


def models() -> str:
    """One line per version with its metrics; the current one marked with *, an unreadable
    one said to be."""
    params = load_params()
    store = registry(params)
    try:
        current = store.current()
    except RegistryError as error:
        log.warning("%s", error)
        current = None
    lines = []
    for version in store.versions():
        mark = "*" if version == current else " "
        try:
            manifest = store.manifest(version)
            scores = " ".join(f"{k}={v:.4f}" for k, v in manifest["metrics"].items())
            lines.append(f"{mark} {version}  {manifest['created']}  {scores}")
        except (RegistryError, KeyError, TypeError, ValueError, AttributeError) as error:
            reason = error if isinstance(error, RegistryError) else repr(error)
            lines.append(f"{mark} {version}  unreadable manifest: {reason}")
    return "\n".join(lines) or f"no versions in {store.location} yet - run `make deploy`"


def deploy_main(argv: list[str]) -> None:
    argparse.ArgumentParser(prog="deploy", description=deploy.__doc__).parse_args(argv)
    print(deploy())


def rollback_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="rollback", description="promote an earlier version")
    parser.add_argument(
        "version", nargs="?", help="the version to serve (default: the one before the current)"
    )
    print(rollback(parser.parse_args(argv).version))


def models_main(argv: list[str]) -> None:
    argparse.ArgumentParser(prog="models", description="list the versions").parse_args(argv)
    print(models())
