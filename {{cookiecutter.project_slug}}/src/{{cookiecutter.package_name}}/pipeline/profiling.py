"""Summarise a column as a reference for drift monitoring: the profile stage's statistics.

A numeric column keeps quantile bins (for the population stability index, PSI) and its
empirical CDF on a grid of quantiles (for a two-sample Kolmogorov-Smirnov test); a
categorical one keeps its category frequencies (for PSI and a chi-square test). Both
keep the missing rate. The monitor (monitoring/drift.py) compares batches with these.

Built to be summed: the bin edges and ECDF points come from a sample (`numeric_grid`), then
each partition contributes counts on that fixed grid (`numeric_counts`, `category_counts`),
and the sums make the summary (`numeric_summary_of`, `categorical_summary_of`). When the
sample holds every row, the summary is the one the whole column in memory would give.
"""

import math
from collections import Counter

import numpy as np
import pandas as pd

BINS = 10  # quantile bins for PSI
GRID = 100  # ECDF points for the KS test: the statistic is exact to 1/GRID
TOP_CATEGORIES = 50  # rarer categories are pooled as OTHER for PSI and chi-square
MAX_SEEN = 1000  # categories remembered, to tell rare ones from unseen ones
COUNTED = 10 * MAX_SEEN  # categories a partition counts one by one; rarer ones are pooled
OTHER = "__other__"
# Rows the bin edges and ECDF points are taken from. A quantile of a sample of n rows is off
# by about sqrt(p(1 - p) / n) in rank: under 0.002 at 100,000 rows, far finer than the
# deciles (0.1) and the ECDF grid (0.01) resolve, and 100,000 rows of a few dozen columns
# fit in tens of MB. Smaller data is taken whole, so its summary is exact.
SAMPLE_ROWS = 100_000
SAMPLE_SEED = 0  # fixed: the grid only has to be the same on every run


def bin_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """The number of values in each bin [edge_i, edge_i+1), open at both ends."""
    bins = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return np.bincount(bins, minlength=len(edges) + 1)


def present_numbers(values: pd.Series) -> np.ndarray:
    """The values that are there, as sorted floats."""
    return np.sort(values.dropna().to_numpy(dtype=float))


def numeric_grid(values: pd.Series) -> dict:
    """Bin edges (inner deciles) and ECDF points (percentiles) of a sample of a column."""
    present = present_numbers(values)
    if len(present) == 0:
        return {"edges": [], "points": []}
    edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)))[1:-1]
    points = np.unique(np.quantile(present, np.linspace(0, 1, GRID + 1)))
    return {"edges": edges.tolist(), "points": points.tolist()}


def numeric_counts(values: pd.Series, grid: dict) -> dict:
    """One partition's part of a numeric summary on a fixed grid; parts add up
    (merge_numeric). The spread is kept as the sum of squared deviations from the
    partition's own mean (m2), which merges without the cancellation a plain sum of
    squares suffers on large values."""
    present = present_numbers(values)
    total = float(present.sum())
    if len(present):
        deviation = present - total / len(present)
        m2 = float(np.sum(deviation * deviation))
    else:
        m2 = 0.0
    return {
        "count": len(present),
        "missing": int(len(values) - len(present)),
        "sum": total,
        "m2": m2,
        "bins": bin_counts(present, grid["edges"]).tolist(),
        "at_or_below": np.searchsorted(present, grid["points"], side="right").tolist(),
    }


def merge_numeric(parts: list[dict]) -> dict:
    """The counts of all partitions together, in partition order (so always the same sums)."""
    merged = dict(parts[0])
    for part in parts[1:]:
        count = merged["count"] + part["count"]
        m2 = merged["m2"] + part["m2"]
        if merged["count"] and part["count"]:  # Chan et al.'s update of the squared deviations
            delta = part["sum"] / part["count"] - merged["sum"] / merged["count"]
            m2 += delta * delta * merged["count"] * part["count"] / count
        merged = {
            "count": count,
            "missing": merged["missing"] + part["missing"],
            "sum": merged["sum"] + part["sum"],
            "m2": m2,
            "bins": [a + b for a, b in zip(merged["bins"], part["bins"], strict=True)],
            "at_or_below": [
                a + b for a, b in zip(merged["at_or_below"], part["at_or_below"], strict=True)
            ],
        }
    return merged


def numeric_summary_of(counts: dict, grid: dict) -> dict:
    """The reference summary of a numeric column from its merged counts."""
    count, rows = counts["count"], counts["count"] + counts["missing"]
    return {
        "kind": "numeric",
        "count": count,
        "missing_rate": counts["missing"] / rows if rows else 0.0,
        "mean": counts["sum"] / count if count else None,
        "std": math.sqrt(counts["m2"] / (count - 1)) if count > 1 else None,
        "edges": list(grid["edges"]),
        "shares": (np.asarray(counts["bins"]) / max(count, 1)).tolist(),
        "ecdf": {
            "points": list(grid["points"]),
            "cdf": (np.asarray(counts["at_or_below"]) / max(count, 1)).tolist(),
        },
    }


def numeric_summary(values: pd.Series) -> dict:
    """The summary of a whole column in memory (a grid from all its values)."""
    grid = numeric_grid(values)
    return numeric_summary_of(numeric_counts(values, grid), grid)


def category_counts(values: pd.Series) -> dict:
    """One partition's part of a categorical summary: the COUNTED most frequent categories
    one by one, the rest pooled (they are beyond what the summary keeps by name)."""
    counts = values.dropna().astype(str).value_counts()
    kept = counts.iloc[:COUNTED]
    return {
        "rows": len(values),
        "missing": int(values.isna().sum()),
        "counts": {str(name): int(count) for name, count in kept.items()},
        "pooled": int(counts.iloc[COUNTED:].sum()),
    }


def merge_categories(parts: list[dict]) -> dict:
    counts: Counter = Counter()
    for part in parts:
        counts.update(part["counts"])
    return {
        "rows": sum(part["rows"] for part in parts),
        "missing": sum(part["missing"] for part in parts),
        "counts": dict(counts),
        "pooled": sum(part["pooled"] for part in parts),
    }


def categorical_summary_of(merged: dict) -> dict:
    """The reference summary of a categorical column from its merged counts."""
    counts = pd.Series(merged["counts"], dtype="int64")
    # Most frequent first; ties in name order, so the summary is deterministic.
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    present = int(counts.sum()) + merged["pooled"]
    total = max(present, 1)
    frequencies = {str(k): int(v) / total for k, v in counts.head(TOP_CATEGORIES).items()}
    if len(counts) > TOP_CATEGORIES or merged["pooled"]:
        frequencies[OTHER] = (int(counts.iloc[TOP_CATEGORIES:].sum()) + merged["pooled"]) / total
    rows = merged["rows"]
    return {
        "kind": "categorical",
        "count": present,
        "missing_rate": merged["missing"] / rows if rows else 0.0,
        "frequencies": frequencies,
        "seen": sorted(str(k) for k in counts.index[:MAX_SEEN]),
    }


def categorical_summary(values: pd.Series) -> dict:
    """The summary of a whole column in memory."""
    return categorical_summary_of(merge_categories([category_counts(values)]))
