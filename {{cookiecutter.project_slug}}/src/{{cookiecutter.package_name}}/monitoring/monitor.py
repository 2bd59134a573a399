"""`monitor`: compare a batch of data with the reference of the current model.

The batch is a CSV or Parquet file, a folder, glob or URL of them (`make predict`'s output
too), or a folder of the server's prediction logs; it is counted partition by partition on
the reference's bins and categories (drift.py), so memory holds one partition. The
reference is the production version's profile (MODEL_REGISTRY), or the workspace's
models/ before anything is deployed. Writes reports/drift.json, drift.md and drift.html;
a run that fails writes none and renames the last run's to drift.previous.*.
Exit codes: 0 no drift, 1 drift, 2 unusable input (the message names the problem).
"""

import argparse
import json
import logging
from pathlib import Path

import joblib
import pandas as pd

from ..deploy.bundle import PROFILE_FILE, load_version
from ..deploy.release import registry
from ..errors import PipelineError, UnusableInput
from ..params import Params, load_params
from ..pipeline.derive_step import check_code
from ..pipeline.engine import open_table, running
from ..pipeline.sources import FORMATS
from ..products import product
from ..scoring import MODEL_VERSION, PREDICTION, as_number, check_columns, model_frame
from . import drift
from . import report as driftreport

log = logging.getLogger(__name__)
LOG_PATTERN = "predictions*.jsonl"  # the server's prediction logs (serve/predictionlog.py)
CHUNK_ROWS = 1_000_000  # rows the local engine reads at a time: memory is bounded by a chunk


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


def log_folder(batch: str) -> Path | None:
    """The batch as a folder of the server's prediction logs, if that is what it is."""
    path = Path(batch)
    if "://" in batch or not path.is_dir():
        return None
    if any(path.glob(LOG_PATTERN)):
        return path
    if not any(name.suffix.lower() in FORMATS for name in path.rglob("*")):
        raise UnusableInput(
            f"{path} holds no prediction logs ({LOG_PATTERN}) and no Parquet or CSV files"
        )
    return None


def reference(params: Params) -> tuple[dict, object, str, str | None]:
    """The profile, model and version of production, or the workspace's before a deploy
    (no version then); and where they came from."""
    store = registry(params)
    current = store.current()
    if current:
        loaded = load_version(store, current)
        profile = json.loads(loaded.files[PROFILE_FILE])
        return profile, loaded.model, f"production version {current} ({store.location})", current
    profile_file = product("profile")
    if not profile_file.exists():
        raise PipelineError(f"no model deployed and no {profile_file} - run `make repro` first")
    profile = json.loads(profile_file.read_text())
    model = joblib.load(product("model"))
    check_code(model, f"the workspace's {product('model')}")
    return profile, model, f"the workspace's {profile_file} (nothing deployed yet)", None


def as_numbers(frame: pd.DataFrame, profile: dict, number: int) -> pd.DataFrame:
    """The partition with its numeric features as numbers; text among them is unusable."""
    numeric = {
        name: as_number(frame[name], name, number)
        for name, summary in profile["features"].items()
        if summary["kind"] == "numeric"
    }
    return frame.assign(**numeric)


def input_names(profile: dict) -> list[str]:
    """The raw columns the model takes (the profile lists them with their types)."""
    return [entry["name"] for entry in profile["inputs"]]


def predictions_of(
    frame: pd.DataFrame, number: int, profile: dict, model, version: str | None
) -> pd.Series:
    """The model's predictions for a partition. Rows `make predict` scored with this very
    version already carry them: the same bundle gives the same outputs, so they are read,
    not computed again. Another version's (or none) are predicted anew: its reference must
    be compared with its own model's outputs."""
    scored = version is not None and {PREDICTION, MODEL_VERSION} <= set(frame.columns)
    if scored and (frame[MODEL_VERSION] == version).all():
        return frame[PREDICTION].reset_index(drop=True)
    return pd.Series(model.predict(model_frame(frame, profile["inputs"], number)))


def batch_counts(
    frame: pd.DataFrame,
    number: int,
    profile: dict,
    model,
    version: str | None,
    logged: pd.Series | None = None,
) -> dict:
    """One partition's counts for every feature and the predictions (drift.column_counts)."""
    frame = as_numbers(frame, profile, number)
    counts = {
        "rows": len(frame),
        "features": {
            name: drift.column_counts(summary, frame[name])
            for name, summary in profile["features"].items()
        },
    }
    if "predictions" in profile and len(frame):
        predictions = (
            predictions_of(frame, number, profile, model, version) if logged is None else logged
        )
        kind = profile["predictions"]["kind"]
        values = predictions.astype(str) if kind == "categorical" else predictions.astype(float)
        counts["predictions"] = drift.column_counts(profile["predictions"], values)
    return counts


def count_batch(batch: str, profile: dict, model, version: str | None) -> list[dict]:
    """Per-partition counts of a batch: a folder of prediction logs (in memory, with the
    predictions the server logged) or a dataset read a chunk at a time."""
    folder = log_folder(batch)
    if folder is not None:
        frame, logged = read_logs(folder)
        if frame.empty:
            raise UnusableInput(f"{batch} holds no rows")
        check_columns(list(frame.columns), input_names(profile), "the batch")
        return [batch_counts(frame, 0, profile, model, version, logged)]
    try:
        table = open_table(batch, chunk_rows=CHUNK_ROWS)
        check_columns(table.columns, input_names(profile), "the batch")
        return table.summarise(batch_counts, profile, model, version)
    except (OSError, ValueError) as error:  # each reader raises its own kinds: unreadable
        raise UnusableInput(f"cannot read {batch}: {error}") from None


def compare(batch: str) -> dict:
    """The whole drift report for a batch, as a dictionary."""
    params = load_params()
    profile, model, source, version = reference(params)
    with running():
        parts = count_batch(batch, profile, model, version)
    rows = sum(part["rows"] for part in parts)
    if rows == 0:
        raise UnusableInput(f"{batch} holds no rows")
    rules = params.monitor
    columns = dict(profile["features"])
    tests = len(columns) + ("predictions" in profile)
    alpha = rules.p_value / tests  # Bonferroni: the level holds for the batch as a whole
    features = {
        name: drift.column_drift(
            summary, drift.merge_counts([part["features"][name] for part in parts]), rules, alpha
        )
        for name, summary in columns.items()
    }
    report = {
        "batch": batch,
        "reference": source,
        "rows": rows,
        "reference_rows": profile["rows"],
        "family_p_value": rules.p_value,
        "alpha_per_test": alpha,
        "features": features,
    }
    if "predictions" in profile:
        scored = [part["predictions"] for part in parts if "predictions" in part]
        counts = drift.merge_counts(scored)
        report["predictions"] = drift.column_drift(profile["predictions"], counts, rules, alpha)
    drifted = [name for name, result in features.items() if result["drifted"]]
    report["drifted_features"] = drifted
    report["prediction_drift"] = bool(report.get("predictions", {}).get("drifted"))
    report["drift"] = bool(drifted) or report["prediction_drift"]
    if rows < rules.min_rows:
        report["warning"] = f"only {rows} rows: tests have little power under {rules.min_rows}"
    return report


def compare_or_unusable(batch: str) -> dict:
    """compare(), where having no reference to compare with is unusable input too (exit 2)."""
    try:
        return compare(batch)
    except UnusableInput:
        raise
    except PipelineError as error:
        raise UnusableInput(str(error)) from error


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="monitor", description=__doc__)
    parser.add_argument(
        "batch",
        nargs="?",
        help="CSV or Parquet: a file, folder, glob or URL; or a folder of prediction logs "
        "(default: the ingested data)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports"), help="folder for the reports")
    args = parser.parse_args(argv)
    try:
        report = compare_or_unusable(args.batch or str(product("raw")))
        written = driftreport.write(report, args.out)
    except BaseException:
        # Never leave an old verdict where this run's would be, nor lose it.
        kept = driftreport.set_aside(args.out)
        if kept:
            log.warning(
                "this run wrote no drift report; the last verdict's are kept as %s",
                ", ".join(map(str, kept)),
            )
        raise
    print(driftreport.summary(report))
    print(f"wrote {', '.join(str(path) for path in written)}")
    if report["drift"]:
        raise SystemExit(1)
