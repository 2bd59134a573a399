"""Live evidence before a promotion: how the candidate did on the traffic it shadowed or
answered as a canary, with the outcomes that came back, beside the version it replaces.

Asked for by params.yaml's deploy.evidence_rows (0: not asked): the candidate needs that
many rows with an outcome, and its live deploy.metric may not be worse than the replaced
version's live one beyond deploy.tolerance (the bar `make deploy` sets offline).
"""

from pathlib import Path

from ..errors import PipelineError
from ..params import Params
from .release import LOWER_IS_BETTER


def live_evidence(folder: Path, candidate: str, replaced: str | None, params: Params) -> str:
    """What the log shows for the candidate against the replaced version; PipelineError
    saying what is missing or worse."""
    from ..monitoring.performance import performance  # scikit-learn's metrics, on demand

    rules = params.deploy
    needed, metric = rules.evidence_rows, rules.metric
    how = (
        f"shadow it (SERVE_SHADOW) or canary it (SERVE_CANARY) with SERVE_PREDICTION_LOG="
        f"{folder}, send outcomes (POST /feedback, make feedback), or set deploy.evidence_rows: 0"
    )
    versions = performance(folder, params=params)["versions"] if folder.is_dir() else {}
    found = versions.get(candidate, {})
    rows = found.get("rows_with_outcomes", 0)
    if rows < needed:
        raise PipelineError(
            f"no promotion: version {candidate} has {rows} live row(s) with an outcome in "
            f"{folder}, deploy.evidence_rows asks for {needed} - {how}"
        )
    live = found["metrics"].get(metric)
    if live is None:
        raise PipelineError(
            f"no promotion: {metric} cannot be computed from the outcomes of version "
            f"{candidate} (a classifier's roc_auc needs both classes among them) - {how}"
        )
    said = f"{candidate}: {metric}={describe(live)} on {rows} live rows"
    if agreeing := found.get("agreement_with_answers"):
        said += f", agreeing with the answers on {agreeing:.1%}"
    if replaced is None:
        return f"live evidence: {said}; the target serves no version yet"
    bar = versions.get(replaced, {})
    bar_rows = bar.get("rows_with_outcomes", 0)
    bar_live = bar.get("metrics", {}).get(metric)
    if bar_rows < needed or bar_live is None:
        raise PipelineError(
            f"no promotion: the version it would replace, {replaced}, has {bar_rows} live "
            f"row(s) with an outcome in {folder} (deploy.evidence_rows: {needed}): no live bar "
            "to compare with - send outcomes for its answers too"
        )
    sign = -1 if metric in LOWER_IS_BETTER else 1
    against = f"{replaced}: {metric}={describe(bar_live)} on {bar_rows}"
    if sign * (live["value"] - bar_live["value"]) < -rules.tolerance:
        raise PipelineError(
            f"no promotion: live {said} is worse than {against} beyond the tolerance "
            f"{rules.tolerance}"
        )
    return f"live evidence: {said}; {against}"


def describe(metric: dict) -> str:
    return f"{metric['value']:.4f} [{metric['low']:.4f}, {metric['high']:.4f}]"
