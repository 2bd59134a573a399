"""Summarise a column as a reference for drift monitoring: the profile stage's statistics.

A numeric column keeps quantile bins (for the population stability index, PSI) and its
empirical CDF on a grid of quantiles (for a two-sample Kolmogorov-Smirnov test); a
categorical one keeps its category frequencies (for PSI and a chi-square test). Both
keep the missing rate. The monitor (monitoring/drift.py) compares batches with these.
"""

import numpy as np
import pandas as pd

BINS = 10  # quantile bins for PSI
GRID = 100  # ECDF points for the KS test: the statistic is exact to 1/GRID
TOP_CATEGORIES = 50  # rarer categories are pooled as OTHER for PSI and chi-square
MAX_SEEN = 1000  # categories remembered, to tell rare ones from unseen ones
OTHER = "__other__"


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
