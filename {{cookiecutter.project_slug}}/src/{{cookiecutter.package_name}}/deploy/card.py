"""The model card: one Markdown page per version (card.md), saying what the version is, what
it was made from and how well it did, with the intended use and limitations from
docs/model.md. `make deploy` writes it into the version; the server, `make models` and
`make promote` show it.

Names and values come from the data and params.yaml, so each is escaped as it goes in: a
column named like a link or a table's bar shows as itself, in Markdown and in HTML.
"""

import logging
import re
from pathlib import Path

import pandas as pd
import yaml

from ..pipeline.derivation import DERIVE_FILE, PASS_THROUGH_WITHOUT_DATES
from .bundle import verified
from .registry import Registry, RegistryError

log = logging.getLogger(__name__)

CARD_FILE = "card.md"
ABOUT = Path("docs/model.md")
PLACEHOLDER = "(fill in:"  # docs/model.md's placeholders start so; deploy warns while one is left
SHOWN_CATEGORIES = 10
SHOWN_IMPORTANCES = 10
# Markdown's punctuation that can start markup mid-line (emphasis, links and images, code,
# HTML, entities, table cells, strikethrough); a backslash before each makes it literal.
# Values never start a line, so list and heading marks need none.
MARKUP = re.compile(r"([\\`*_\[\]<>|~&])")


def text(value: object) -> str:
    """A value as literal Markdown text on one line."""
    return MARKUP.sub(r"\\\1", " ".join(str(value).split())) or " "


def code(value: object) -> str:
    """A value as a Markdown code span, whatever backticks it holds."""
    value = " ".join(str(value).split())
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    padding = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{padding}{value}{padding}{ticks}"


def number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else text(value)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table of cells already escaped."""
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    return lines + [f"| {' | '.join(row)} |" for row in rows]


def fenced(body: str, info: str = "") -> list[str]:
    """A code block whose fence is longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", body.rstrip("\n"), fence]


def about(path: Path = ABOUT) -> str:
    """docs/model.md from its first `## ` section on (its title and note stay there), or a
    line saying it is missing."""
    if not path.exists():
        return (
            f"## Intended use and limitations\n\nNot stated: {path} is missing - restore it "
            "from the template and fill it in."
        )
    document = path.read_text(encoding="utf-8")
    start = re.search(r"^## ", document, flags=re.MULTILINE)
    return (document[start.start() :] if start else document).strip()


def plot_sections(plots: dict[str, pd.DataFrame]) -> list[str]:
    """The evaluation's plots (reports/plots) in words and tables."""
    lines: list[str] = []
    if "confusion.csv" in plots:
        pairs = plots["confusion.csv"].astype(str)
        counts = pd.crosstab(pairs["actual"], pairs["predicted"])
        header = ["actual / predicted", *(text(c) for c in counts.columns)]
        rows = [
            [text(a), *(str(n) for n in row)]
            for a, row in zip(counts.index, counts.values, strict=True)
        ]
        lines += ["", "Confusion matrix (test rows):", "", *table(header, rows)]
    if "predictions.csv" in plots:
        residual = plots["predictions.csv"]["residual"].astype(float)
        rows = [
            [name, number(float(value))]
            for name, value in (
                ("mean", residual.mean()),
                ("standard deviation", residual.std()),
                ("largest absolute", residual.abs().max()),
            )
        ]
        lines += ["", "Residuals (actual - predicted, test rows):", "", *table(["", ""], rows)]
    if "importance.csv" in plots:
        ranked = plots["importance.csv"].sort_values("importance", ascending=False)
        rows = [
            [text(f), number(float(i))]
            for f, i in ranked.head(SHOWN_IMPORTANCES).itertuples(index=False)
        ]
        title = f"Permutation importance, the {len(rows)} largest of {len(ranked)}:"
        lines += ["", title, "", *table(["feature", "importance"], rows)]
    curves = sorted(set(plots) - {"confusion.csv", "predictions.csv", "importance.csv"})
    if curves:
        listed = ", ".join(f"{text(name)} ({len(plots[name])} points)" for name in curves)
        lines += ["", f"Curves, in reports/plots (`dvc plots show` draws them): {listed}."]
    return lines or ["", "No plots were found in reports/plots."]


def reference(profile: dict) -> list[str]:
    """The drift monitor's reference (reference_profile.json) in one table."""
    rows = []
    for name, entry in profile.get("features", {}).items():
        if entry.get("kind") == "numeric":
            shape = f"mean {number(entry['mean'])}, std {number(entry['std'])}"
        else:
            frequencies = entry.get("frequencies", {})
            top = max(frequencies, key=frequencies.get, default=None)
            shape = f"{len(entry.get('seen', []))} categories"
            if top is not None:
                shape += f", most often {text(top)} ({frequencies[top]:.1%})"
        rows.append([text(name), text(entry.get("kind")), f"{entry['missing_rate']:.1%}", shape])
    lines = [
        "",
        f"What `make monitor` compares new data with: {profile.get('rows')} training rows.",
        "",
        *table(["column", "kind", "missing", "distribution"], rows),
    ]
    predictions = profile.get("predictions") or {}
    if predictions.get("kind") == "numeric":
        said = f"mean {number(predictions['mean'])}, std {number(predictions['std'])}"
    else:
        said = ", ".join(
            f"{text(k)} {v:.1%}" for k, v in (predictions.get("frequencies") or {}).items()
        )
    return [*lines, "", f"Test predictions: {said}."]


def schema(features: list[dict]) -> list[str]:
    rows = []
    for feature in features:
        known = feature.get("categories") or []
        shown = ", ".join(text(c) for c in known[:SHOWN_CATEGORIES])
        if len(known) > SHOWN_CATEGORIES:
            shown += f" and {len(known) - SHOWN_CATEGORIES} more"
        nullable = "yes" if feature.get("nullable") else "no"
        rows.append([text(feature["name"]), text(feature["type"]), nullable, shown or " "])
    return table(["column", "type", "may be missing", "categories known"], rows)


def derive_line(code_hash: str | None) -> str:
    if code_hash is None:
        return "Not recorded."
    if code_hash in PASS_THROUGH_WITHOUT_DATES:
        return f"{DERIVE_FILE} as the template ships it (sha256 {code_hash}: dates to parts)."
    return f"{DERIVE_FILE}, sha256 {text(code_hash)}: the model refuses to run other code."


def render(manifest: dict, profile: dict, plots: dict[str, pd.DataFrame], intended: str) -> str:
    """The card of a version: its manifest as stored (with version and name), its reference
    profile, the evaluation's plot tables and docs/model.md's sections (`about`)."""
    params = manifest.get("params") or {}
    data = params.get("data") or {}
    features = manifest.get("features", [])
    metrics = manifest.get("metrics", {})
    lines = [
        f"# Model card: {text(manifest['name'])} {manifest['version']}",
        "",
        *table(
            ["", ""],
            [
                ["name", text(manifest["name"])],
                ["version", manifest["version"]],
                ["commit", text(manifest.get("git_commit"))],
                ["created", text(manifest.get("created"))],
                ["task", text(params.get("task"))],
                ["estimator", text((params.get("train") or {}).get("estimator"))],
            ],
        ),
        "",
        "## Data",
        "",
        f"- Source (params.yaml data.source): {text(data.get('source'))}",
        f"- Its DVC hash in dvc.lock: {text(manifest.get('data_md5') or 'not recorded')}",
        f"- Training rows: {profile.get('rows', 'not recorded')}; input columns: "
        f"{len(features)}; target: {text(data.get('target'))}",
        "",
        "## Schema",
        "",
        "What a request's rows must hold:",
        "",
        *schema(features),
        "",
        "## Parameters",
        "",
        *fenced(yaml.safe_dump(params, sort_keys=False), "yaml"),
        "",
        "## Test metrics",
        "",
        *table(["metric", "value"], [[text(k), number(v)] for k, v in metrics.items()]),
        "",
        "## Deploy gate",
        "",
        text(manifest.get("gate") or "not recorded"),
        "",
        "## Plots",
        *plot_sections(plots),
        "",
        "## Drift reference",
        *reference(profile),
        "",
        "## Derived features",
        "",
        derive_line(manifest.get("derive_hash")),
        "",
        intended,
    ]
    return "\n".join(lines) + "\n"


def plots_in(folder: Path) -> dict[str, pd.DataFrame]:
    """The evaluation's plot tables, by file name (none when the folder is missing)."""
    return {path.name: pd.read_csv(path) for path in sorted(folder.glob("*.csv"))}


def intended_use(path: Path = ABOUT) -> str:
    """docs/model.md's sections, with a warning while a placeholder is left in them."""
    sections = about(path)
    if not path.exists() or PLACEHOLDER in sections:
        log.warning(
            "%s %s: the model card says so until it states the model's intended use and "
            "limitations",
            path,
            "still has placeholders" if path.exists() else "is missing",
        )
    return sections


def missing(version: str) -> str:
    """What to say of a version that has no card."""
    return f"version {version} has no model card: it was deployed before cards were"


def stored(store: Registry, version: str) -> str | None:
    """The version's card, checked against its manifest's checksum; None for a version
    deployed before cards were."""
    manifest = store.manifest(version)
    expected = manifest.get("sha256", {}).get(CARD_FILE)
    if expected is None:
        return None
    return verified(version, CARD_FILE, store.read(version, CARD_FILE), expected).decode()


def location(store: Registry, version: str) -> str | None:
    """Where the version's card is; None when it has none (deployed before cards were) or
    its manifest is unreadable."""
    try:
        listed = CARD_FILE in store.manifest(version).get("sha256", {})
    except (RegistryError, AttributeError):
        return None
    return store.where(version, CARD_FILE) if listed else None
