"""`monitor`: compare a batch of data with the reference of the current model.

The batch is a CSV or Parquet file, a folder, glob or URL of them (`make predict`'s output
too), or a folder of the server's prediction logs; it is counted partition by partition on
the reference's bins and categories (drift.py), so memory holds one partition. The
reference is the production version's profile (MODEL_REGISTRY), or the workspace's
models/ before anything is deployed. The predictions compared are the reference model's
on the batch's inputs (a log's, the server's answers); log lines that are not the server's
are skipped and counted. Writes reports/drift.json, drift.md and drift.html;
a run that fails writes none and renames the last run's to drift.previous.*.
Exit codes: 0 no drift, 1 drift, 2 unusable input (the message names the problem).
"""

import argparse
import json
import logging
from collections import Counter
from dataclasses import replace
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
from ..scoring import as_number, check_columns, model_frame
from . import drift
from . import report as driftreport

log = logging.getLogger(__name__)
SHADOW_ROLE = "shadow"  # lines of a shadow version (serve/traffic.py): not the batch's rows
LOG_PATTERN = "predictions*.jsonl"  # the server's prediction logs (serve/predictionlog.py)
CHUNK_ROWS = 1_000_000  # rows the local engine reads at a time: memory is bounded by a chunk


def read_logs(folder: Path, names: list[str]) -> tuple[pd.DataFrame, pd.Series, Counter]:
    """The inputs and predictions of every request in a folder of prediction logs, and the
    lines skipped, counted by why (logged_request): a partly written or edited line costs
    its own rows, never the whole batch's verdict."""
    files = sorted(folder.glob(LOG_PATTERN))
    if not files:
        raise UnusableInput(f"{folder} holds no prediction logs ({LOG_PATTERN})")
    rows: list[dict] = []
    predictions: list = []
    skipped: Counter = Counter()
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError as error:
            raise UnusableInput(f"cannot read {path}: {error.strerror or error}") from None
        for line in filter(str.strip, text.splitlines()):
            request = logged_request(line, names)
            if request is None:
                continue
            if isinstance(request, str):
                skipped[request] += 1
            else:
                rows += request[0]
                predictions += request[1]
    if skipped:
        log.warning("skipped %s in %s", skipped_lines(skipped), folder)
    return pd.DataFrame.from_records(rows), pd.Series(predictions, dtype=object), skipped


def logged_request(line: str, names: list[str]) -> tuple[list[dict], list] | str | None:
    """A log line's rows and predictions, as the server writes them (serve/predictionlog.py);
    else why it is skipped. The rows must be objects holding the model's columns, and the
    predictions one value per row: a line with 50 rows and 1 prediction would pair rows
    with predictions they did not get."""
    try:
        entry = json.loads(line)
    except ValueError:
        return "not JSON"
    if isinstance(entry, dict) and entry.get("role") == SHADOW_ROLE:
        return None  # a shadow version's predictions of rows its answer's line holds
    inputs = entry.get("inputs") if isinstance(entry, dict) else None
    outputs = entry.get("outputs") if isinstance(entry, dict) else None
    predictions = outputs.get("predictions") if isinstance(outputs, dict) else None
    if not (isinstance(inputs, list) and inputs and isinstance(predictions, list)):
        return "not a logged request"
    if len(inputs) != len(predictions):
        return "inputs and predictions of different lengths"
    if not all(isinstance(row, dict) and all(name in row for name in names) for row in inputs):
        return "rows without the model's columns"
    if not all(isinstance(value, str | int | float) for value in predictions):
        return "predictions that are not values"
    return inputs, predictions


def skipped_lines(skipped: Counter) -> str:
    """'3 malformed line(s): 2 not JSON, 1 inputs and predictions of different lengths'."""
    reasons = ", ".join(f"{count} {reason}" for reason, count in skipped.most_common())
    return f"{sum(skipped.values())} malformed line(s): {reasons}"


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


def reference(params: Params) -> tuple[dict, object, str]:
    """The profile and model of production, or the workspace's before a deploy; and where
    they came from."""
    store = registry(params)
    current = store.current()
    if current:
        loaded = load_version(store, current)
        profile = json.loads(loaded.files[PROFILE_FILE])
        # The version predicts as the server does (through its graph, if it has one).
        predictor = replace(loaded, files={})  # Dask sends it to every worker
        return profile, predictor, f"production version {current} ({store.location})"
    profile_file = product("profile")
    if not profile_file.exists():
        raise PipelineError(f"no model deployed and no {profile_file} - run `make repro` first")
    profile = json.loads(profile_file.read_text())
    model = joblib.load(product("model"))
    check_code(model, f"the workspace's {product('model')}")
    return profile, model, f"the workspace's {profile_file} (nothing deployed yet)"


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


def unprofiled(profile: dict) -> dict[str, float]:
    """The raw columns whose values the profile leaves out (a date, an identifier derive()
    drops), each with its missing rate in the training rows."""
    return {
        entry["name"]: entry["missing_rate"]
        for entry in profile["inputs"]
        if entry["name"] not in profile["features"] and "missing_rate" in entry
    }


def predictions_of(frame: pd.DataFrame, number: int, profile: dict, model) -> pd.Series:
    """The reference model's predictions for a partition, always made here: a `prediction`
    column the batch carries (`make predict`'s) is never used, even when its model_version
    names the reference's version. Whoever supplies a batch also writes that column, so
    reading it would let a batch hide prediction drift; checking it instead would cost the
    same predict call and add a second verdict that nothing (drift-check, CI) acts on."""
    return pd.Series(model.predict(model_frame(frame, profile["inputs"], number)))


def batch_counts(
    frame: pd.DataFrame,
    number: int,
    profile: dict,
    model,
    logged: pd.Series | None = None,
) -> dict:
    """One partition's counts for every feature and the predictions (drift.column_counts):
    the server's own answers for its logs, the reference model's for anything else."""
    frame = as_numbers(frame, profile, number)
    counts = {
        "rows": len(frame),
        "features": {
            name: drift.column_counts(summary, frame[name])
            for name, summary in profile["features"].items()
        },
        "missing": {name: int(frame[name].isna().sum()) for name in unprofiled(profile)},
    }
    if "predictions" in profile and len(frame):
        predictions = predictions_of(frame, number, profile, model) if logged is None else logged
        kind = profile["predictions"]["kind"]
        values = predictions.astype(str) if kind == "categorical" else predictions.astype(float)
        counts["predictions"] = drift.column_counts(profile["predictions"], values)
    return counts


def count_batch(batch: str, profile: dict, model) -> list[dict]:
    """Per-partition counts of a batch: a folder of prediction logs (in memory, with the
    predictions the server logged, and the lines skipped) or a dataset read a chunk at a
    time."""
    folder = log_folder(batch)
    if folder is not None:
        frame, logged, skipped = read_logs(folder, input_names(profile))
        if frame.empty:
            found = f": {skipped_lines(skipped)}" if skipped else ""
            raise UnusableInput(f"{batch} holds no rows the monitor can use{found}")
        check_columns(list(frame.columns), input_names(profile), "the batch")
        return [{**batch_counts(frame, 0, profile, model, logged), "skipped": skipped}]
    try:
        table = open_table(batch, chunk_rows=CHUNK_ROWS)
        check_columns(table.columns, input_names(profile), "the batch")
        return table.summarise(batch_counts, profile, model)
    except (OSError, ValueError) as error:  # each reader raises its own kinds: unreadable
        raise UnusableInput(f"cannot read {batch}: {error}") from None


def compare(batch: str) -> dict:
    """The whole drift report for a batch, as a dictionary."""
    params = load_params()
    profile, model, source = reference(params)
    with running():
        parts = count_batch(batch, profile, model)
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
        "inputs": {
            name: drift.missing_drift(
                rate, sum(part["missing"][name] for part in parts), rows, rules
            )
            for name, rate in unprofiled(profile).items()
        },
    }
    if "predictions" in profile:
        scored = [part["predictions"] for part in parts if "predictions" in part]
        counts = drift.merge_counts(scored)
        report["predictions"] = drift.column_drift(profile["predictions"], counts, rules, alpha)
    drifted = [name for name, result in features.items() if result["drifted"]]
    drifted += [name for name, result in report["inputs"].items() if result["drifted"]]
    report["drifted_features"] = drifted
    report["prediction_drift"] = bool(report.get("predictions", {}).get("drifted"))
    report["drift"] = bool(drifted) or report["prediction_drift"]
    if rows < rules.min_rows:
        report["warning"] = f"only {rows} rows: tests have little power under {rules.min_rows}"
    skipped: Counter = sum((part.get("skipped", Counter()) for part in parts), Counter())
    if skipped:
        report["skipped_lines"] = sum(skipped.values())
        report["skipped"] = f"skipped {skipped_lines(skipped)}"
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
