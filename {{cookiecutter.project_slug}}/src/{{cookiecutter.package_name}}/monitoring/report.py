"""Write a drift comparison as JSON, Markdown and an HTML page with a plot per feature."""

import html
import json
from pathlib import Path

NAMES = ("drift.json", "drift.md", "drift.html")
BAR_WIDTH, CHART_HEIGHT = 14, 90


def paths(folder: Path) -> list[Path]:
    return [folder / name for name in NAMES]


def previous_paths(folder: Path) -> list[Path]:
    """Where a failed run keeps the reports of the run before: drift.previous.json, ..."""
    return [folder / name.replace("drift.", "drift.previous.") for name in NAMES]


def verdict(report: dict) -> str:
    if not report["drift"]:
        return f"No drift: {len(report['features'])} features and the predictions look alike."
    parts = []
    if report["drifted_features"]:
        parts.append(f"{len(report['drifted_features'])} column(s) drifted")
    if report["prediction_drift"]:
        parts.append("the predictions drifted")
    return "DRIFT: " + " and ".join(parts) + "."


def summary(report: dict) -> str:
    """What the terminal shows: the verdict and each drifted column's reasons."""
    lines = [verdict(report), f"  batch: {report['batch']} ({report['rows']} rows)"]
    lines.append(f"  reference: {report['reference']} ({report['reference_rows']} rows)")
    for name, result in columns(report) + missing_only(report):
        if result["drifted"]:
            lines.append(f"  {name}: {'; '.join(result['reasons'])}")
    for note in notes(report):
        lines.append(f"  {note}")
    return "\n".join(lines)


def notes(report: dict) -> list[str]:
    """The warning on a small batch, and the log lines skipped as malformed."""
    found = [f"warning: {report['warning']}"] if "warning" in report else []
    return found + ([report["skipped"]] if "skipped" in report else [])


def columns(report: dict) -> list[tuple[str, dict]]:
    """Features (drifted first) and then the predictions."""
    ordered = sorted(report["features"].items(), key=lambda item: not item[1]["drifted"])
    return ordered + ([("(predictions)", report["predictions"])] if "predictions" in report else [])


def missing_only(report: dict) -> list[tuple[str, dict]]:
    """The inputs whose missing rate alone is watched (a date, an identifier derive() drops)."""
    return list(report.get("inputs", {}).items())


def flag(result: dict) -> str:
    return "**yes**: " + "; ".join(result["reasons"]) if result["drifted"] else "no"


def missing_rates(result: dict) -> str:
    """'0.0% -> 12.5%': the column's missing rate in the reference and in the batch."""
    missing = result["missing_rate"]
    return f"{missing['reference']:.1%} -> {missing['batch']:.1%}"


def markdown(report: dict) -> str:
    lines = [
        "## Drift report",
        "",
        f"**{verdict(report)}**",
        "",
        f"Batch `{report['batch']}`: {report['rows']} rows. Reference: {report['reference']}, "
        f"{report['reference_rows']} rows. A column drifts when its shift is significant "
        f"(p < {report['alpha_per_test']:.2g}, the family-wise {report['family_p_value']} "
        "split over all columns) and large (PSI), or on unseen categories or a changed "
        "missing rate (thresholds: `monitor` in params.yaml).",
        "",
        "| column | kind | PSI | test | p-value | missing (ref -> batch) | drift |",
        "| --- | --- | ---: | --- | ---: | --- | --- |",
    ]
    for name, result in columns(report):
        lines.append(
            f"| {name} | {result['kind']} | {result['psi']:.3f} | {result['test']} | "
            f"{result['p_value']:.2g} | {missing_rates(result)} | {flag(result)} |"
        )
    for name, result in missing_only(report):
        lines.append(
            f"| {name} | missing values only | | | | {missing_rates(result)} | {flag(result)} |"
        )
    for note in notes(report):
        lines += ["", note[0].upper() + note[1:]]
    return "\n".join(lines) + "\n"


def chart(result: dict) -> str:
    """Reference (grey) and batch (blue) shares per bin, side by side, as inline SVG."""
    bins = result["bins"]
    top = max([*result["reference_shares"], *result["batch_shares"], 1e-9])
    width = len(bins) * (2 * BAR_WIDTH + 6)
    bars = []
    for i, label in enumerate(bins):
        x = i * (2 * BAR_WIDTH + 6)
        for offset, share, color in (
            (0, result["reference_shares"][i], "#9e9e9e"),
            (BAR_WIDTH, result["batch_shares"][i], "#1e88e5"),
        ):
            height = CHART_HEIGHT * share / top
            bars.append(
                f'<rect x="{x + offset}" y="{CHART_HEIGHT - height:.1f}" width="{BAR_WIDTH}" '
                f'height="{height:.1f}" fill="{color}"><title>{html.escape(str(label))}: '
                f"{share:.1%}</title></rect>"
            )
    return f'<svg width="{width}" height="{CHART_HEIGHT}" role="img">{"".join(bars)}</svg>'


def caption(result: dict) -> str:
    """What the bars are, and the means when the column is numeric."""
    if result["kind"] == "categorical":
        names = ", ".join(map(str, result["bins"][:8]))
        return f"categories: {names}{', ...' if len(result['bins']) > 8 else ''}"
    mean = result["mean"]
    means = (
        f"; mean {mean['reference']:.4g} -> {mean['batch']:.4g}"
        if None not in (mean["reference"], mean["batch"])
        else ""
    )
    return f"bins: the reference's deciles, low to high{means}"


def section(name: str, result: dict, calm: str, body: str) -> str:
    """A column's box: its name, why it drifted (or, when it did not, `calm`), then body."""
    status = "; ".join(result["reasons"]) if result["drifted"] else f"no drift ({calm})"
    return (
        f'<section class="{"drift" if result["drifted"] else "ok"}">'
        f"<h2>{html.escape(str(name))}</h2><p>{html.escape(status)}</p>{body}</section>"
    )


def page(report: dict) -> str:
    sections = [
        section(
            name,
            result,
            f"PSI {result['psi']:.3f}, {result['test']} p={result['p_value']:.2g}",
            f"{chart(result)}<p><small>{html.escape(caption(result))}</small></p>",
        )
        for name, result in columns(report)
    ]
    sections += [
        section(
            name,
            result,
            f"missing rate {missing_rates(result)}",
            "<p><small>only its missing rate is watched</small></p>",
        )
        for name, result in missing_only(report)
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift report</title><style>"
        "body{font-family:sans-serif;margin:2em}section{display:inline-block;margin:1em;"
        "vertical-align:top}.drift h2{color:#c62828}h2{font-size:1em}p{font-size:.8em}"
        "</style></head><body>"
        f"<h1>{html.escape(verdict(report))}</h1><p>Batch {html.escape(report['batch'])}, "
        f"{report['rows']} rows; reference: {html.escape(report['reference'])}. Grey: "
        "reference, blue: batch; hover a bar for its bin and share.</p>"
        + "".join(f"<p>{html.escape(note)}</p>" for note in notes(report))
        + "".join(sections)
        + "</body></html>\n"
    )


def temporary(path: Path) -> Path:
    """Where a report is written before it replaces the old one (git ignores drift.*)."""
    return path.with_name(f"{path.name}.tmp")


def write(report: dict, folder: Path) -> list[Path]:
    """Write the three reports in place of the last run's. Each goes to a temporary file
    first, and all are renamed once all are written: a failure midway leaves the old ones."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = [json.dumps(report, indent=2) + "\n", markdown(report), page(report)]
    written = paths(folder)
    for path, text in zip(written, texts, strict=True):
        temporary(path).write_text(text)
    for path in written:
        temporary(path).replace(path)
    for older in previous_paths(folder):  # what a failed run set aside is older still
        older.unlink(missing_ok=True)
    return written


def set_aside(folder: Path) -> list[Path]:
    """After a run that failed, keep the last verdict's reports as drift.previous.*: kept,
    yet never taken for this run's. Returns where they are."""
    for path in paths(folder):
        temporary(path).unlink(missing_ok=True)
    if any(path.exists() for path in paths(folder)):
        for older in previous_paths(folder):  # one run's set, never a mix of two
            older.unlink(missing_ok=True)
        for path, previous in zip(paths(folder), previous_paths(folder), strict=True):
            if path.exists():
                path.replace(previous)
    return [previous for previous in previous_paths(folder) if previous.exists()]
