"""`performance`: how each served version does on the outcomes that came back for its
predictions.

Joins the server's prediction log (predictions*.jsonl, each line a request with its
prediction ids) with the outcomes stored beside it (outcomes*.jsonl, outcomes.py) on the
prediction id, and reports per version: the rows with an outcome, the task's metrics (the
deploy metric first) each with a 95% bootstrap interval, and the version's offline test
metric from the registry beside it. Writes reports/performance.json, .md and .html. With
--check (the scheduled job), exits 1 when production's live deploy metric has dropped.
"""

import argparse
import html
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from sklearn import metrics

from ..deploy.release import LOWER_IS_BETTER, registry
from ..errors import PipelineError, UnusableInput
from ..params import Params, load_params
from . import outcomes

PREDICTIONS = "predictions*.jsonl"
SHADOW = "shadow"  # the role of a shadow version's lines (serve/traffic.py)
RESAMPLES = 200  # bootstrap resamples per interval: its ends move by about a point of a %
LEVEL = 0.95
SEED = 0  # the same rows give the same interval


def logged_predictions(folder: Path, since: float | None) -> pd.DataFrame:
    """One row per logged prediction that has an id: id, version, time, prediction and, for
    a classifier, the class probabilities."""
    rows: list[tuple] = []
    for path in sorted(folder.glob(PREDICTIONS)):
        for line in path.read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
                ids, outputs = entry["prediction_ids"], entry["outputs"]
                at, version = float(entry["time"]), str(entry["model_version"])
                role = str(entry.get("role", "primary"))
                scores = outputs.get("probabilities") or [None] * len(ids)
                found = list(zip(ids, outputs["predictions"], scores, strict=True))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a line from before ids, or partly written
            if since is None or at >= since:
                rows += [(i, version, role, at, predicted, p) for i, predicted, p in found]
    columns = ["prediction_id", "version", "role", "time", "predicted", "scores"]
    return pd.DataFrame(rows, columns=columns)


def agreement(predictions: pd.DataFrame, version: str, classes: list | None) -> float | None:
    """The share of a shadow version's rows on which it agrees with the answer given (the
    same class, or within 1e-6 relative); None for a version that never shadowed."""
    shadowed = predictions[(predictions["version"] == version) & (predictions["role"] == SHADOW)]
    answers = predictions[predictions["role"] != SHADOW]
    pairs = shadowed.merge(answers, on="prediction_id", suffixes=("", "_answer"))
    if pairs.empty:
        return None
    if classes:
        return float((pairs["predicted"] == pairs["predicted_answer"]).mean())
    a, b = pairs["predicted"].astype(float), pairs["predicted_answer"].astype(float)
    scale = np.maximum(a.abs(), b.abs()).replace(0, 1)
    return float(((a - b).abs() / scale <= 1e-6).mean())


def stored_outcomes(folder: Path) -> pd.DataFrame:
    """The first outcome stored for each id."""
    rows = []
    for path in sorted(folder.glob(outcomes.PATTERN), key=lambda p: (p.stat().st_mtime, p.name)):
        for line in path.read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
                rows.append((entry[outcomes.ID_COLUMN], entry["label"], float(entry["time"])))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    frame = pd.DataFrame(rows, columns=["prediction_id", "actual", "outcome_time"])
    return frame.sort_values("outcome_time", kind="stable").drop_duplicates("prediction_id")


def scores_of(actual, predicted, scores, classes: list | None) -> dict[str, float]:
    """The task's metrics on these rows (roc_auc only with probabilities and every class)."""
    if not classes:
        return {
            "rmse": metrics.root_mean_squared_error(actual, predicted),
            "mae": metrics.mean_absolute_error(actual, predicted),
            "r2": metrics.r2_score(actual, predicted) if len(actual) > 1 else float("nan"),
        }
    binary = len(classes) == 2
    options = {"average": "binary", "pos_label": classes[1]} if binary else {"average": "macro"}
    options |= {"zero_division": 0, "labels": classes}
    result = {
        "accuracy": metrics.accuracy_score(actual, predicted),
        "f1": metrics.f1_score(actual, predicted, **options),
        "precision": metrics.precision_score(actual, predicted, **options),
        "recall": metrics.recall_score(actual, predicted, **options),
    }
    if scores is not None and set(classes) <= set(actual):
        result["roc_auc"] = (
            metrics.roc_auc_score(np.asarray(actual) == classes[1], scores[:, 1])
            if binary
            else metrics.roc_auc_score(actual, scores, multi_class="ovr", labels=classes)
        )
    return result


def with_intervals(actual, predicted, scores, classes: list | None) -> dict[str, dict]:
    """Each metric with the ends of its percentile bootstrap interval."""
    point = scores_of(actual, predicted, scores, classes)
    rng = np.random.default_rng(SEED)
    draws: dict[str, list[float]] = {name: [] for name in point}
    for _ in range(RESAMPLES):
        pick = rng.integers(0, len(actual), len(actual))
        sample = scores_of(
            actual[pick], predicted[pick], None if scores is None else scores[pick], classes
        )
        for name in point:
            draws[name].append(sample.get(name, np.nan))
    tail = (1 - LEVEL) / 2 * 100
    result = {}
    for name, value in point.items():
        known = np.asarray(draws[name], dtype=float)
        known = known[np.isfinite(known)]
        low, high = np.percentile(known, [tail, 100 - tail]) if len(known) else (np.nan, np.nan)
        result[name] = {"value": float(value), "low": float(low), "high": float(high)}
    return result


def ordered(report: dict[str, dict], first: str) -> dict[str, dict]:
    return {name: report[name] for name in sorted(report, key=lambda name: name != first)}


def manifest_of(store, version: str) -> dict:
    """The version's manifest; empty for a version gone from the registry."""
    try:
        return store.manifest(version)
    except PipelineError:
        return {}


def classes_of(rows: pd.DataFrame, manifest: dict, task: str) -> list | None:
    """A classifier's classes, from its manifest; for a version gone from the registry,
    the labels its rows hold."""
    if task != "classification":
        return None
    if "classes" in manifest:
        return manifest["classes"]
    return sorted(set(rows["predicted"]) | set(rows["actual"]), key=str)


def performance(folder: Path, since: float | None = None, params: Params | None = None) -> dict:
    params = params or load_params()
    if not (folder / outcomes.KEY_FILE).is_file() and not any(folder.glob(PREDICTIONS)):
        raise UnusableInput(
            f"{folder} holds no prediction log: name the folder the server logs to "
            "(LOG=..., or SERVE_PREDICTION_LOG)"
        )
    predictions = logged_predictions(folder, since)
    known = stored_outcomes(folder)
    joined = predictions.merge(known, on="prediction_id", how="inner")
    store = registry(params)
    first = params.deploy.metric
    versions = {}
    for version, rows in joined.groupby("version", sort=True):
        manifest = manifest_of(store, version)
        manifest_classes = classes_of(rows, manifest, params.task)
        actual = rows["actual"].to_numpy()
        predicted = rows["predicted"].to_numpy()
        scores = None
        if manifest_classes and rows["scores"].notna().all():
            scores = np.asarray(rows["scores"].tolist(), dtype=float)
        live = with_intervals(actual, predicted, scores, manifest_classes)
        offline = manifest.get("metrics") or {}
        for name, entry in live.items():
            entry["offline"] = offline.get(name)
        versions[version] = {
            "predictions": int((predictions["version"] == version).sum()),
            "roles": sorted(set(rows["role"])),
            "rows_with_outcomes": len(rows),
            "agreement_with_answers": agreement(predictions, version, manifest_classes),
            "metrics": ordered(live, first),
        }
    for version in sorted(set(predictions["version"]) - set(versions)):
        classes = classes_of(predictions.iloc[:0], manifest_of(store, version), params.task)
        versions[version] = {
            "predictions": int((predictions["version"] == version).sum()),
            "roles": sorted(set(predictions.loc[predictions["version"] == version, "role"])),
            "rows_with_outcomes": 0,
            "agreement_with_answers": agreement(predictions, version, classes),
            "metrics": {},
        }
    return {
        "log": str(folder),
        "since": since,
        "deploy_metric": first,
        "confidence": LEVEL,
        "outcomes": len(known),
        "outcomes_without_a_logged_prediction": int(
            (~known["prediction_id"].isin(predictions["prediction_id"])).sum()
        ),
        "versions": versions,
    }


def text(report: dict) -> str:
    lines = [
        f"{report['outcomes']} outcome(s) in {report['log']}; "
        f"{report['outcomes_without_a_logged_prediction']} match no logged prediction"
    ]
    for version, entry in report["versions"].items():
        agreeing = entry["agreement_with_answers"]
        shadow = "" if agreeing is None else f"; as a shadow it agreed on {agreeing:.1%} of rows"
        lines.append(
            f"{version} ({', '.join(entry['roles'])}): {entry['rows_with_outcomes']} of "
            f"{entry['predictions']} prediction(s) have an outcome{shadow}"
        )
        for name, value in entry["metrics"].items():
            offline = "" if value["offline"] is None else f"   offline {value['offline']:.4f}"
            lines.append(
                f"  {name:<10} {value['value']:.4f}  "
                f"[{value['low']:.4f}, {value['high']:.4f}]{offline}"
            )
    return "\n".join(lines)


def markdown(report: dict) -> str:
    rows = [
        f"| {version} | {entry['rows_with_outcomes']} | {name} | {value['value']:.4f} | "
        f"{value['low']:.4f} to {value['high']:.4f} | "
        f"{'' if value['offline'] is None else format(value['offline'], '.4f')} |"
        for version, entry in report["versions"].items()
        for name, value in entry["metrics"].items()
    ]
    verdict = report.get("drop")
    return "\n".join(
        [
            "## Live performance",
            "",
            *([f"**{verdict}**", ""] if verdict else []),
            text(report).splitlines()[0] + f"; intervals at {report['confidence']:.0%}.",
            "",
            "| version | rows with outcomes | metric | live | interval | offline (test) |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )


def drop(report: dict, version: str | None, params: Params) -> str | None:
    """Why the served version's live deploy metric counts as dropped, or None: worse than
    its offline test score beyond deploy.tolerance, on at least monitor.min_rows rows."""
    entry = report["versions"].get(version or "", {})
    live = entry.get("metrics", {}).get(params.deploy.metric)
    if live is None or live["offline"] is None:
        return None
    if entry["rows_with_outcomes"] < params.monitor.min_rows:
        return None
    sign = -1 if params.deploy.metric in LOWER_IS_BETTER else 1
    if sign * (live["value"] - live["offline"]) >= -params.deploy.tolerance:
        return None
    return (
        f"live {params.deploy.metric} of version {version} dropped: {live['value']:.4f} on "
        f"{entry['rows_with_outcomes']} rows, against {live['offline']:.4f} on its test rows "
        f"(deploy.tolerance {params.deploy.tolerance})"
    )


def page(report: dict) -> str:
    cells = "".join(
        f"<tr><td>{html.escape(version)}</td><td>{entry['rows_with_outcomes']}</td>"
        f"<td>{html.escape(name)}</td><td>{value['value']:.4f}</td>"
        f"<td>{value['low']:.4f} to {value['high']:.4f}</td>"
        f"<td>{'' if value['offline'] is None else format(value['offline'], '.4f')}</td></tr>"
        for version, entry in report["versions"].items()
        for name, value in entry["metrics"].items()
    )
    return (
        "<!doctype html><meta charset=utf-8><title>Live performance</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em 1em;"
        "border-bottom:1px solid #ddd;text-align:left}</style>"
        f"<h1>Live performance</h1><p>{html.escape(text(report).splitlines()[0])}; "
        f"intervals at {report['confidence']:.0%} (bootstrap).</p>"
        "<table><tr><th>version</th><th>rows with outcomes</th><th>metric</th><th>live</th>"
        f"<th>interval</th><th>offline (test)</th></tr>{cells}</table>"
    )


def write(report: dict, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in (
        ("performance.json", json.dumps(report, indent=2, allow_nan=True) + "\n"),
        ("performance.md", markdown(report)),
        ("performance.html", page(report)),
    ):
        path = folder / name
        partial = path.with_suffix(".partial")
        partial.write_text(content)
        partial.replace(path)
        written.append(path)
    return written


def moment(value: str) -> float:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UnusableInput(
            f"SINCE={value!r} is not a date or time (e.g. 2026-12-01 or 2026-12-01T08:00)"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="performance", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--log",
        default=os.environ.get("SERVE_PREDICTION_LOG") or "logs",
        help="the server's prediction-log folder (default: SERVE_PREDICTION_LOG, else logs)",
    )
    parser.add_argument(
        "--since", default="", help="only predictions from then (ISO date/time, UTC)"
    )
    parser.add_argument("--out", default="reports", help="folder for performance.json, .md, .html")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when production's live deploy metric dropped below its test score",
    )
    args = parser.parse_args(argv)
    params = load_params()
    report = performance(Path(args.log), moment(args.since) if args.since else None, params)
    if args.check:
        report["drop"] = drop(report, registry(params).current(), params)
    paths = write(report, Path(args.out))
    print(text(report))
    print("wrote " + ", ".join(map(str, paths)))
    if report.get("drop"):
        print(report["drop"])
        raise SystemExit(1)
