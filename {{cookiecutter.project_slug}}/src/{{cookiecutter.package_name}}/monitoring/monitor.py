"""`monitor`: compare a batch of data with the reference of the current model.

The batch is a CSV or Parquet file, or a folder of the server's prediction logs. The
reference is the production version's profile (MODEL_REGISTRY), or the workspace's
models/ before anything is deployed. Writes reports/drift.json, drift.md and drift.html.
Exit codes: 0 no drift, 1 drift, 2 unusable input (the message names the problem).
"""

import argparse
import json
import logging
from pathlib import Path

import joblib
import pandas as pd

from ..deploy.bundle import PROFILE_FILE, check_and_load
from ..deploy.release import registry
from ..errors import PipelineError, UnusableInput
from ..params import Params, load_params
from ..pipeline.features import prepare
from ..products import product
from . import drift
from . import report as driftreport

log = logging.getLogger(__name__)
LOG_PATTERN = "predictions*.jsonl"  # the server's prediction logs (serve/predictionlog.py)


def read_logs(folder: Path) -> tuple[pd.DataFrame, pd.Series]:
    """The inputs and predictions of every request in a folder of prediction logs."""
    files = sorted(folder.glob(LOG_PATTERN))
    if not files:
        raise UnusableInput(f"{folder} holds no prediction logs ({LOG_PATTERN})")
    rows, predictions, broken = [], [], 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
                rows += entry["inputs"]
                predictions += entry["outputs"]["predictions"]
            except (ValueError, KeyError, TypeError):
                broken += 1
    if broken:
        log.warning("skipped %d unreadable line(s) in %s", broken, folder)
    return pd.DataFrame.from_records(rows), pd.Series(predictions, dtype=object)


def read_batch(path: Path) -> tuple[pd.DataFrame, pd.Series | None]:
    """The batch's rows, and the logged predictions when it is a folder of logs."""
    if path.is_dir():
        frame, predictions = read_logs(path)
    else:
        readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet}
        if path.suffix.lower() not in readers:
            raise UnusableInput(
                f"{path} is not a .csv or .parquet file, nor a folder of prediction logs"
            )
        try:
            frame = readers[path.suffix.lower()](path)
        except FileNotFoundError:
            raise UnusableInput(f"{path} does not exist") from None
        except Exception as error:  # each reader raises its own kinds; all mean unreadable
            raise UnusableInput(f"cannot read {path}: {error}") from None
        predictions = None
    if frame.empty:
        raise UnusableInput(f"{path} holds no rows")
    return frame, predictions


def reference(params: Params) -> tuple[dict, object, str]:
    """The profile and model of the production version, or the workspace's before a deploy."""
    store = registry(params)
    current = store.current()
    if current:
        manifest = store.manifest(current)
        files = {name: store.read(current, name) for name in manifest["sha256"]}
        loaded = check_and_load(manifest, files)
        profile = json.loads(files[PROFILE_FILE])
        return profile, loaded.model, f"production version {current} ({store.location})"
    profile_file = product("profile")
    if not profile_file.exists():
        raise PipelineError(f"no model deployed and no {profile_file} - run `make repro` first")
    profile = json.loads(profile_file.read_text())
    model = joblib.load(product("model"))
    return profile, model, f"the workspace's {profile_file} (nothing deployed yet)"


def check_columns(frame: pd.DataFrame, profile: dict) -> None:
    expected = list(profile["features"])
    missing = [name for name in expected if name not in frame.columns]
    if missing:
        found = ", ".join(map(str, list(frame.columns)[:10])) or "none"
        raise UnusableInput(
            f"the batch lacks {len(missing)} of the model's {len(expected)} feature columns "
            f"({', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''}); "
            f"its columns are: {found}"
        )
    for name, summary in profile["features"].items():
        if summary["kind"] == "numeric":
            numbers = pd.to_numeric(frame[name], errors="coerce")
            if (numbers.isna() & frame[name].notna()).any():
                raise UnusableInput(f"column {name!r} holds text where the model expects numbers")
            frame[name] = numbers


def predict(model, frame: pd.DataFrame, profile: dict) -> pd.Series:
    features = prepare(frame[list(profile["features"])])
    return pd.Series(model.predict(features))


def compare(batch: Path) -> dict:
    """The whole drift report for a batch, as a dictionary."""
    frame, predictions = read_batch(batch)
    params = load_params()
    profile, model, source = reference(params)
    check_columns(frame, profile)
    if predictions is None:
        predictions = predict(model, frame, profile)
    rules = params.monitor
    columns = dict(profile["features"])
    tests = len(columns) + ("predictions" in profile)
    alpha = rules.p_value / tests  # Bonferroni: the level holds for the batch as a whole
    features = {
        name: drift.column_drift(summary, frame[name], rules, alpha)
        for name, summary in columns.items()
    }
    report = {
        "batch": str(batch),
        "reference": source,
        "rows": len(frame),
        "reference_rows": profile["rows"],
        "family_p_value": rules.p_value,
        "alpha_per_test": alpha,
        "features": features,
    }
    if "predictions" in profile:
        kind = profile["predictions"]["kind"]
        values = predictions.astype(str) if kind == "categorical" else predictions.astype(float)
        report["predictions"] = drift.column_drift(profile["predictions"], values, rules, alpha)
    drifted = [name for name, result in features.items() if result["drifted"]]
    report["drifted_features"] = drifted
    report["prediction_drift"] = bool(report.get("predictions", {}).get("drifted"))
    report["drift"] = bool(drifted) or report["prediction_drift"]
    if len(frame) < rules.min_rows:
        report["warning"] = (
            f"only {len(frame)} rows: tests have little power under {rules.min_rows}"
        )
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="monitor", description=__doc__)
    parser.add_argument(
        "batch",
        type=Path,
        nargs="?",
        help="CSV, Parquet, or a folder of prediction logs (default: the ingested data)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports"), help="folder for the reports")
    args = parser.parse_args(argv)
    for stale in driftreport.paths(args.out):
        stale.unlink(missing_ok=True)  # never leave an old verdict beside a failed run
    try:
        report = compare(args.batch or product("raw"))
    except UnusableInput:
        raise
    except PipelineError as error:  # no reference to compare with is unusable too: exit 2
        raise UnusableInput(str(error)) from error
    written = driftreport.write(report, args.out)
    print(driftreport.summary(report))
    print(f"wrote {', '.join(str(path) for path in written)}")
    if report["drift"]:
        raise SystemExit(1)
