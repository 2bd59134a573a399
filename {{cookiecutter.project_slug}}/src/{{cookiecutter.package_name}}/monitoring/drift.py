"""Drift statistics: compare a batch with a column's reference summary (pipeline/profiling.py).

A column drifts when the shift is both significant (p-value under the family-wise level
split over all columns, Bonferroni) and large (PSI at least the threshold), when unseen
categories fill too many rows, or when the missing rate moves.
"""

from itertools import pairwise

import numpy as np
import pandas as pd
from scipy import stats

from ..pipeline.profiling import OTHER, bin_shares

UNSEEN = "__unseen__"
EPSILON = 1e-4  # stands in for an empty bin's share in PSI


def psi(expected, actual) -> float:
    """Population stability index between two share vectors."""
    e = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_shift(reference: dict, values: pd.Series) -> dict:
    present = np.sort(values.dropna().to_numpy(dtype=float))
    n, m = len(present), reference["count"]
    shares = bin_shares(present, reference["edges"])
    points = np.asarray(reference["ecdf"]["points"], dtype=float)
    batch_cdf = np.searchsorted(present, points, side="right") / max(n, 1)
    statistic = float(np.max(np.abs(batch_cdf - reference["ecdf"]["cdf"]), initial=0.0))
    # The asymptotic two-sample distribution, as scipy's ks_2samp(method="asymp") uses.
    p_value = float(stats.kstwobign.sf(statistic * np.sqrt(n * m / (n + m)))) if n and m else 1.0
    return {
        "psi": psi(reference["shares"], shares),
        "test": "Kolmogorov-Smirnov",
        "statistic": statistic,
        "p_value": p_value,
        "reference_shares": reference["shares"],
        "batch_shares": shares.tolist(),
        "bins": bin_labels(reference["edges"]),
        "mean": {"reference": reference["mean"], "batch": float(present.mean()) if n else None},
    }


def bin_labels(edges: list[float]) -> list[str]:
    bounds = ["-inf", *(f"{edge:.4g}" for edge in edges), "inf"]
    return [f"[{low}, {high})" for low, high in pairwise(bounds)]


def categorical_shift(reference: dict, values: pd.Series) -> dict:
    counts = values.dropna().astype(str).value_counts()
    n, m = int(counts.sum()), reference["count"]
    known = reference["frequencies"]
    seen = set(reference["seen"])
    unseen = {str(k): int(v) for k, v in counts.items() if k not in seen}
    buckets = {name: 0 for name in known} | {UNSEEN: 0}
    for name, count in counts.items():
        if name in unseen:
            buckets[UNSEEN] += int(count)
        else:
            key = name if name in known else OTHER
            buckets[key] = buckets.get(key, 0) + int(count)
    names = list(buckets)
    batch_shares = np.array([buckets[k] for k in names]) / max(n, 1)
    reference_shares = np.array([known.get(k, 0.0) for k in names])
    table = np.vstack([reference_shares * m, batch_shares * n])
    table = table[:, table.sum(axis=0) > 0]
    p_value = 1.0
    if n and m and table.shape[1] > 1:
        p_value = float(stats.chi2_contingency(table, correction=False).pvalue)
    return {
        "psi": psi(reference_shares, batch_shares),
        "test": "chi-square",
        "statistic": None,
        "p_value": p_value,
        "reference_shares": reference_shares.tolist(),
        "batch_shares": batch_shares.tolist(),
        "bins": names,
        "unseen": dict(sorted(unseen.items(), key=lambda item: -item[1])[:20]),
        "unseen_share": sum(unseen.values()) / max(n, 1),
    }


def column_drift(reference: dict, values: pd.Series, rules, alpha: float) -> dict:
    """Compare one column with its reference summary; list the reasons it drifted."""
    if reference["kind"] == "numeric":
        result = numeric_shift(reference, values)
    else:
        result = categorical_shift(reference, values)
    missing = float(values.isna().mean()) if len(values) else 0.0
    result["missing_rate"] = {"reference": reference["missing_rate"], "batch": missing}
    reasons = []
    if result["p_value"] < alpha and result["psi"] >= rules.psi_threshold:
        reasons.append(
            f"distribution shifted: PSI {result['psi']:.2f}, {result['test']} "
            f"p={result['p_value']:.1e}"
        )
    if result.get("unseen_share", 0.0) > rules.unseen_share:
        names = ", ".join(repr(name) for name in list(result["unseen"])[:5])
        reasons.append(f"unseen categories in {result['unseen_share']:.1%} of rows: {names}")
    change = missing - reference["missing_rate"]
    if abs(change) > rules.missing_rate_change:
        reasons.append(f"missing rate {reference['missing_rate']:.1%} -> {missing:.1%}")
    return {"kind": reference["kind"], "drifted": bool(reasons), "reasons": reasons, **result}
