"""Deploy, promote, roll back and list model versions, per environment (DEPLOY_ENV, by
default production): the gate first, then publish and point the environment at it."""

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
from ..pipeline.data import features_and_target
from ..pipeline.features import model_inputs
from ..pipeline.tables import open_table
from ..products import product
from . import bundle, card
from .registry import PRODUCTION, Registry, RegistryError, checked, checked_env

log = logging.getLogger(__name__)
HEAD_ROWS = 1000  # test rows the bundle is built from
LOWER_IS_BETTER = {"rmse", "mae"}


def registry_root() -> str:
    """The registry named by MODEL_REGISTRY (unset or empty: registry/ in the project)."""
    return os.environ.get("MODEL_REGISTRY") or "registry"


def registry(params: Params) -> Registry:
    """The model's versions in the registry named by MODEL_REGISTRY."""
    return Registry(registry_root(), params.deploy.model_name)


def environment(given: str | None = None) -> str:
    """The environment named (--env, which make passes DEPLOY_ENV to), else DEPLOY_ENV,
    else production; checked either way."""
    return checked_env(given or os.environ.get("DEPLOY_ENV") or PRODUCTION, "DEPLOY_ENV")


def served_version(store: Registry, env: str) -> str:
    """The version env serves; PipelineError saying how to deploy one when there is none."""
    version = store.current(env)
    if version is None:
        raise PipelineError(
            f"{env} serves no version in {store.location} - deploy to it first: "
            f"make deploy DEPLOY_ENV={env}"
        )
    return version


def gate(metrics: dict, params: Params, production: dict | None) -> str:
    """Refuse a model under the threshold or worse than production beyond the tolerance
    (whichever environment it goes to, production is the bar)."""
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
    if production is None:
        return f"gate passed: {rules.metric}={score:.4f} (production serves no version yet)"
    served = production["metrics"].get(rules.metric)
    against = f"{served:.4f}" if isinstance(served, int | float) else "no score"
    return (
        f"gate passed: {rules.metric}={score:.4f} against production version "
        f"{production['version']} ({against})"
    )


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


def warn_of_stage_columns(model, params: Params) -> None:
    """Say when the model's inputs are not the ingested columns: a stage before train made
    or renamed columns, which every client must then send (derive.py's features are
    computed by the model itself)."""
    raw = product("raw")
    if not raw.exists():
        return
    ingested = [name for name in open_table(raw).columns if name != params.data.target]
    inputs = [str(name) for name in model.feature_names_in_]
    made = [name for name in inputs if name not in ingested]
    dropped = [name for name in ingested if name not in inputs]
    if made:
        log.warning(
            "the model takes column(s) data.source does not have: %s - a stage made them, so "
            "every client (server, make predict, make monitor) must send them; compute them "
            "in derive() in src/%s/pipeline/derive.py to have the model make them itself",
            ", ".join(made[:10]),
            __package__.split(".")[0],
        )
    if dropped:
        log.warning(
            "data.source has column(s) the model does not take: %s - a stage dropped them, "
            "so clients must leave them out; drop them in derive() instead to take raw rows",
            ", ".join(dropped[:10]),
        )


def deploy(env: str | None = None) -> str:
    """Gate, publish and point the environment (DEPLOY_ENV, default production) at the
    pipeline's model; say what happened."""
    env = environment(env)
    params = load_params()
    store = registry(params)
    with store.lock():  # a second deploy waits, then finds the model already served
        return _deploy(params, store, env)


def _deploy(params: Params, store: Registry, env: str) -> str:
    served = store.current(env)
    target = store.manifest(served) if served else None
    model_file = product("model")
    metrics = json.loads(product("metrics").read_text())
    source = bundle.sha256(model_file.read_bytes())
    if target and target.get("source_sha256") == source:
        return f"model unchanged: {env} already serves it as version {served}, nothing deployed"
    live = store.current(PRODUCTION)
    production = (target if live == served else store.manifest(live)) if live else None
    passed = gate(metrics, params, production)
    log.info(passed)
    commit = git_commit()
    if commit.endswith("-dirty"):
        log.warning(
            "the workspace has uncommitted changes: the version is marked -dirty, as no commit "
            "holds the code and data that made it - commit, then `make deploy`, to avoid that"
        )
    model = joblib.load(model_file)
    warn_of_stage_columns(model, params)
    # The bundle needs the first test rows (its smoke rows) and the columns' types, not the
    # whole test table, which may be larger than memory.
    head = next(iter(open_table(product("test"), chunk_rows=HEAD_ROWS)))
    test_features, _ = features_and_target(head, params.data.target)
    facts = {
        "source_sha256": source,
        "metrics": metrics,
        "params": params.model_dump(),
        "git_commit": commit,
        "data_md5": data_hash(),
        "gate": passed,
    }
    profile = product("profile").read_bytes()
    files, manifest = bundle.build(model, model_inputs(model, test_features), profile, facts)
    record = manifest["graph"]
    if "skipped" in record:
        log.warning(
            "no ONNX graph: %s - the version serves through scikit-learn", record["skipped"]
        )
    else:
        log.info(
            "ONNX graph: the same answers as scikit-learn on %d test rows (largest difference "
            "%.2g)",
            record["rows_compared"],
            record["max_difference"],
        )
    bundle.check_and_load(manifest, files)  # every check a server makes, before publishing
    plots, intended = card.plots_in(product("plots")), card.intended_use()

    def described(stored: dict) -> dict[str, bytes]:
        page = card.render(stored, json.loads(profile), plots, intended)
        return {card.CARD_FILE: page.encode()}

    version = store.publish(files, manifest, commit, described)
    store.promote(version, env=env)
    return (
        f"deployed version {version} to {env} in {store.location}\n"
        f"its model card: {store.where(version, card.CARD_FILE)}"
    )


def promote(
    source: str, target: str, expected: str | None = None, log_folder: Path | None = None
) -> str:
    """Point the target environment at exactly the version the source serves, once that
    version's files pass the checks a server makes on load: the same files, no retraining.
    With `expected`, only if the source still serves that version (CI pins the version its
    staging checks passed, so a later deploy to staging is never promoted unchecked). With
    deploy.evidence_rows, only on live evidence from the prediction log in `log_folder`
    (deploy/evidence.py)."""
    source, target = checked_env(source, "FROM"), checked_env(target, "TO")
    if expected is not None:
        checked(expected, "VERSION")
    if source == target:
        raise PipelineError(f"FROM and TO are both {source} - name two environments")
    params = load_params()
    store = registry(params)
    with store.lock():
        version = served_version(store, source)
        evidence = ""
        if expected is not None and version != expected:
            raise PipelineError(
                f"{source} serves version {version}, not {expected}: a later deploy replaced "
                f"it, so {expected} is not promoted - promote what {source} serves now once its "
                "checks pass, or name the version that passed them"
            )
        replaced = store.current(target)
        if replaced == version:
            return f"{target} already serves version {version}, nothing to promote"
        if params.deploy.evidence_rows:
            from .evidence import live_evidence  # it reads the gate's rules from here

            folder = log_folder or Path(os.environ.get("SERVE_PREDICTION_LOG") or "logs")
            evidence = live_evidence(folder, version, replaced, params) + "\n"
        loaded = bundle.load_version(store, version)  # checksums, scikit-learn, types, smoke
        store.promote(version, env=target)
    page = loaded.files.get(card.CARD_FILE)
    shown = (
        f"its model card, {store.where(version, card.CARD_FILE)}:\n\n{page.decode()}"
        if page is not None
        else card.missing(version)
    )
    return (
        f"{evidence}promoted version {version} from {source} to {target} in {store.location}: "
        f"the same files (sha256 checked), no retraining\n{shown}"
    )


def rollback(env: str | None = None, version: str | None = None) -> str:
    """Point the environment back at the version it served before, or at the version named."""
    env = environment(env)
    store = registry(load_params())
    with store.lock():
        try:
            before = store.current(env)
        except RegistryError:  # a pointer naming no version: rolling back to one repairs it
            before = None
        # The version's form first, then (before the pointer moves) every check a server
        # makes on loading it: a rollback never points an environment at what cannot serve.
        target = store.rollback(env, version, check=lambda v: bundle.load_version(store, v))
    if target == before:
        return f"{env} already serves version {target}, nothing rolled back"
    return f"rolled {env} back to version {target}"


def models() -> str:
    """One line per version with its metrics and the environments that serve it; the one
    production serves marked with *, an unreadable one said to be."""
    params = load_params()
    store = registry(params)
    served = store.environments()
    versions = store.versions()
    lines, carded = [], set()
    for version in versions:
        mark = "*" if version == served[PRODUCTION] else " "
        where = [env for env, current in served.items() if current == version]
        serving = f"  [{', '.join(where)}]" if where else ""
        try:
            manifest = store.manifest(version)
            scores = " ".join(f"{k}={v:.4f}" for k, v in manifest["metrics"].items())
            lines.append(f"{mark} {version}  {manifest['created']}  {scores}{serving}")
            if card.CARD_FILE in (manifest.get("sha256") or {}):
                carded.add(version)
        except (RegistryError, KeyError, TypeError, ValueError, AttributeError) as error:
            reason = error if isinstance(error, RegistryError) else repr(error)
            lines.append(f"{mark} {version}  unreadable manifest: {reason}{serving}")
    if not lines:
        return f"no versions in {store.location} yet - run `make deploy`"
    lines.append("")
    for env, current in served.items():
        if current is None:
            lines.append(f"{env}: serves no version")
        elif current not in versions:
            lines.append(f"{env}: {current}, which is not a complete version")
        else:
            lines.append(f"{env}: {current}")
    # Then where each served version's card is (none for one deployed before cards were).
    lines += [
        f"{env}'s model card: {store.where(v, card.CARD_FILE)}"
        for env, v in served.items()
        if v in carded
    ]
    return "\n".join(lines)


def card_link(env: str) -> str:
    """A Markdown paragraph naming the card of the version env serves (the pull-request
    report's: the retrained model's own card is written when it is deployed)."""
    store = registry(load_params())
    try:
        version = store.current(env)
    except RegistryError as error:  # the report goes out all the same, saying why
        return f"The model card of {env}'s version is unknown: {card.text(error)}"
    if version is None:
        return f"{env} serves no version yet: `make deploy` writes the first model card."
    where = card.location(store, version)
    said = card.code(where) if where else "none, as it was deployed before cards were"
    return (
        f"{env} serves version {version}; its model card: {said}. The retrained model's "
        "card is written into its version when it is deployed."
    )


def env_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env",
        help="the environment (default: DEPLOY_ENV, else production), like staging",
    )


def deploy_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="deploy", description=deploy.__doc__)
    env_option(parser)
    print(deploy(parser.parse_args(argv).env))


def promote_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="promote", description=promote.__doc__)
    parser.add_argument("source", metavar="FROM", help="the environment whose version to take")
    parser.add_argument("target", metavar="TO", help="the environment to point at it")
    parser.add_argument(
        "--version", help="promote only if FROM still serves this version (what CI checked)"
    )
    parser.add_argument(
        "--log",
        type=Path,
        help="the prediction log with the live evidence (deploy.evidence_rows; default: "
        "SERVE_PREDICTION_LOG, else logs)",
    )
    arguments = parser.parse_args(argv)
    print(promote(arguments.source, arguments.target, arguments.version, arguments.log))


def rollback_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="rollback", description=rollback.__doc__)
    env_option(parser)
    parser.add_argument(
        "version", nargs="?", help="the version to serve (default: the one served before)"
    )
    arguments = parser.parse_args(argv)
    print(rollback(arguments.env, arguments.version))


def card_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="card", description="Print the model card of the version an environment serves."
    )
    env_option(parser)
    parser.add_argument(
        "--link",
        action="store_true",
        help="print a Markdown paragraph naming where the card is instead (reports)",
    )
    arguments = parser.parse_args(argv)
    env = environment(arguments.env)
    if arguments.link:
        print(card_link(env))
        return
    store = registry(load_params())
    version = served_version(store, env)
    page = card.stored(store, version)
    if page is None:
        raise PipelineError(card.missing(version))
    print(page, end="")


def models_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="models", description=models.__doc__)
    parser.add_argument(
        "--served-by", metavar="ENV", help="print only the version ENV serves (for scripts)"
    )
    arguments = parser.parse_args(argv)
    if arguments.served_by is None:
        print(models())
        return
    env = checked_env(arguments.served_by, "--served-by")
    version = registry(load_params()).current(env)
    if version is None:
        raise PipelineError(f"{env} serves no version yet")
    print(version)
