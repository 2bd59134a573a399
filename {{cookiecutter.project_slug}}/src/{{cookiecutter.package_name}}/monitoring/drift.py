"""Drift statistics: compare a batch with a column's reference summary (pipeline/profiling.py).

A column drifts when the shift is both significant (p-value under the family-wise level
split over all columns, Bonferroni) and large (PSI at least the threshold), when unseen
categories fill too many rows, or when the missing rate moves.

The batch is counted partition by partition on the reference's own bins, ECDF points and
categories (column_counts), so a batch of any size is compared within a partition's memory.
"""

from collections import Counter
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy import stats

from ..pipeline.profiling import OTHER, bin_counts

UNSEEN = "__unseen__"
EPSILON = 1e-4  # stands in for an empty bin's share in PSI
UNSEEN_KEPT = 100  # unseen category names a partition reports (their total is always exact)


def psi(expected, actual) -> float:
    """Population stability index between two share vectors."""
    e = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def column_counts(reference: dict, values: pd.Series) -> dict:
    """One partition's counts of a column on its reference's bins, ECDF points and
    categories: all the tests need, and they add up over partitions (merge_counts)."""
    if reference["kind"] == "numeric":
        return numeric_counts(reference, values)
    return category_counts(reference, values)


def numeric_counts(reference: dict, values: pd.Series) -> dict:
    present = values.dropna().to_numpy(dtype=float)
    points = np.asarray(reference["ecdf"]["points"], dtype=float)
    # Each value's place among the points, counted, then summed up to each point: the
    # values at or below it, without sorting the partition.
    places = np.bincount(np.searchsorted(points, present, side="left"), minlength=len(points) + 1)
    return {
        "rows": len(values),
        "missing": int(len(values) - len(present)),
        "count": len(present),
        "sum": float(present.sum()),
        "bins": bin_counts(present, reference["edges"]).tolist(),
        "at_or_below": np.cumsum(places)[: len(points)].tolist(),
    }


def category_counts(reference: dict, values: pd.Series) -> dict:
    counts = values.dropna().astype(str).value_counts()
    seen = counts.index.isin(reference["seen"])
    unseen = counts[~seen]
    return {
        "rows": len(values),
        "missing": int(values.isna().sum()),
        "seen": {str(name): int(count) for name, count in counts[seen].items()},
        # Unseen names are only listed in the report: their total is exact, the names kept
        # are each partition's most frequent (a column of IDs would otherwise be kept whole).
        "unseen": {str(name): int(count) for name, count in unseen.head(UNSEEN_KEPT).items()},
        "unseen_total": int(unseen.sum()),
    }


def merge_counts(parts: list[dict]) -> dict:
    """The counts of all partitions together: lists add element by element, names by name."""
    merged: dict = {}
    for part in parts:
        for key, value in part.items():
            if key not in merged:
                merged[key] = Counter(value) if isinstance(value, dict) else value
            elif isinstance(value, dict):
                merged[key].update(value)
            elif isinstance(value, list):
                merged[key] = [a + b for a, b in zip(merged[key], value, strict=True)]
            else:
                merged[key] += value
    return merged


def numeric_shift(reference: dict, counts: dict) -> dict:
    n, m = counts["count"], reference["count"]
    shares = np.asarray(counts["bins"], dtype=float) / max(n, 1)
    batch_cdf = np.asarray(counts["at_or_below"], dtype=float) / max(n, 1)
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
        "mean": {"reference": reference["mean"], "batch": counts["sum"] / n if n else None},
    }


def bin_labels(edges: list[float]) -> list[str]:
    bounds = ["-inf", *(f"{edge:.4g}" for edge in edges), "inf"]
    return [f"[{low}, {high})" for low, high in pairwise(bounds)]


def categorical_shift(reference: dict, counts: dict) -> dict:
    m = reference["count"]
    n = sum(counts["seen"].values()) + counts["unseen_total"]
    known = reference["frequencies"]
    buckets = {name: 0 for name in known} | {UNSEEN: counts["unseen_total"]}
    for name, count in counts["seen"].items():
        key = name if name in known else OTHER
        buckets[key] = buckets.get(key, 0) + count
    names = list(buckets)
    batch_shares = np.array([buckets[k] for k in names]) / max(n, 1)
    reference_shares = np.array([known.get(k, 0.0) for k in names])
    table = np.vstack([reference_shares * m, batch_shares * n])
    table = table[:, table.sum(axis=0) > 0]
    p_value = 1.0
    if n and m and table.shape[1] > 1:
        p_value = float(stats.chi2_contingency(table, correction=False).pvalue)
    unseen = sorted(counts["unseen"].items(), key=lambda item: (-item[1], item[0]))
    return {
        "psi": psi(reference_shares, batch_shares),
        "test": "chi-square",
        "statistic": None,
        "p_value": p_value,
        "reference_shares": reference_shares.tolist(),
        "batch_shares": batch_shares.tolist(),
        "bins": names,
        "unseen": dict(unseen[:20]),
        "unseen_share": counts["unseen_total"] / max(n, 1),
    }


def column_drift(reference: dict, counts: dict, rules, alpha: float) -> dict:
    """Compare a column's batch counts (column_counts, merged) with its reference summary;
    list the reasons it drifted."""
    if reference["kind"] == "numeric":
        result = numeric_shift(reference, counts)
    else:
        result = categorical_shift(reference, counts)
    missing = counts["missing"] / counts["rows"] if counts["rows"] else 0.0
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
    reasons += missing_rate_moved(reference["missing_rate"], missing, rules)
    return {"kind": reference["kind"], "drifted": bool(reasons), "reasons": reasons, **result}


def missing_rate_moved(reference: float, batch: float, rules) -> list[str]:
    """The reason a column drifted when its share of missing values moved, if it did."""
    if abs(batch - reference) > rules.missing_rate_change:
        return [f"missing rate {reference:.1%} -> {batch:.1%}"]
    return []


def missing_drift(reference: float, missing: int, rows: int, rules) -> dict:
    """An input whose values are not profiled (a date, an identifier derive() drops): only
    its missing rate is watched, so an upstream change that empties it still shows."""
    batch = missing / rows if rows else 0.0
    reasons = missing_rate_moved(reference, batch, rules)
    return {
        "drifted": bool(reasons),
        "reasons": reasons,
        "missing_rate": {"reference": reference, "batch": batch},
    }
