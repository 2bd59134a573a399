"""Drift statistics: summarise a column as a reference, then compare a batch with it.

A numeric column keeps quantile bins (for the population stability index, PSI) and its
empirical CDF on a grid of quantiles (for a two-sample Kolmogorov-Smirnov test); a
categorical one keeps its category frequencies (for PSI and a chi-square test). Both
keep the missing rate. A column drifts when the shift is both significant (p-value under
the family-wise level split over all columns, Bonferroni) and large (PSI at least the
threshold), when unseen categories fill too many rows, or when the missing rate moves.
"""

from itertools import pairwise

import numpy as np
import pandas as pd
from scipy import stats

BINS = 10  # quantile bins for PSI
GRID = 100  # ECDF points for the KS test: the statistic is exact to 1/GRID
TOP_CATEGORIES = 50  # rarer categories are pooled as OTHER for PSI and chi-square
MAX_SEEN = 1000  # categories remembered, to tell rare ones from unseen ones
OTHER = "__other__"
UNSEEN = "__unseen__"
EPSILON = 1e-4  # stands in for an empty bin's share in PSI


def bin_shares(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """The share of values in each bin [edge_i, edge_i+1), open at both ends."""
    bins = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return np.bincount(bins, minlength=len(edges) + 1) / max(len(values), 1)


def numeric_summary(values: pd.Series) -> dict:
    present = np.sort(values.dropna().to_numpy(dtype=float))
    if len(present) == 0:
        edges, points = np.array([]), np.array([])
    else:
        edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)))[1:-1]
        points = np.unique(np.quantile(present, np.linspace(0, 1, GRID + 1)))
    cdf = np.searchsorted(present, points, side="right") / max(len(present), 1)
    return {
        "kind": "numeric",
        "count": len(present),
        "missing_rate": float(values.isna().mean()) if len(values) else 0.0,
        "mean": float(present.mean()) if len(present) else None,
        "std": float(present.std(ddof=1)) if len(present) > 1 else None,
        "edges": edges.tolist(),
        "shares": bin_shares(present, edges).tolist(),
        "ecdf": {"points": points.tolist(), "cdf": cdf.tolist()},
    }


def categorical_summary(values: pd.Series) -> dict:
    counts = values.dropna().astype(str).value_counts()
    # Most frequent first; ties in name order, so the summary is deterministic.
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    total = max(int(counts.sum()), 1)
    frequencies = {str(k): int(v) / total for k, v in counts.head(TOP_CATEGORIES).items()}
    if len(counts) > TOP_CATEGORIES:
        frequencies[OTHER] = int(counts.iloc[TOP_CATEGORIES:].sum()) / total
    return {
        "kind": "categorical",
        "count": int(counts.sum()),
        "missing_rate": float(values.isna().mean()) if len(values) else 0.0,
        "frequencies": frequencies,
        "seen": sorted(str(k) for k in counts.index[:MAX_SEEN]),
    }


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
