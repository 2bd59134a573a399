"""Stage profile: summarise the training data as the reference for drift monitoring."""

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import read_table
from ..features import column_kinds
from ..params import load_params

log = logging.getLogger(__name__)
BINS = 10  # quantile bins per numeric column
TOP_CATEGORIES = 50  # rarer categories are pooled as "__other__"


def numeric_profile(values: pd.Series) -> dict:
    """Quantile bin edges with the share of rows in each bin, plus the missing rate."""
    present = values.dropna().astype(float)
    edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1))) if len(present) else []
    inner = list(edges[1:-1])
    counts = pd.cut(present, [-np.inf, *inner, np.inf], right=False).value_counts(sort=False)
    return {
        "kind": "numeric",
        "missing_rate": float(values.isna().mean()),
        "mean": float(present.mean()) if len(present) else None,
        "std": float(present.std()) if len(present) > 1 else None,
        "edges": [float(edge) for edge in inner],
        "shares": [float(share) for share in counts / max(len(present), 1)],
    }


def categorical_profile(values: pd.Series) -> dict:
    """The share of each frequent category, plus the missing rate."""
    shares = values.dropna().astype(str).value_counts(normalize=True)
    shares = shares.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    top = shares.head(TOP_CATEGORIES)
    frequencies = {str(key): float(value) for key, value in top.items()}
    if len(shares) > TOP_CATEGORIES:
        frequencies["__other__"] = float(shares.iloc[TOP_CATEGORIES:].sum())
    return {
        "kind": "categorical",
        "missing_rate": float(values.isna().mean()),
        "frequencies": frequencies,
    }


def profile(frame: pd.DataFrame, target: str) -> dict:
    """Profile every feature column of the training rows."""
    features = frame.drop(columns=[target])
    kinds = column_kinds(features)
    columns = {name: numeric_profile(features[name]) for name in kinds.numeric}
    columns |= {name: categorical_profile(features[name]) for name in kinds.categorical}
    return {"rows": len(frame), "target": target, "features": dict(sorted(columns.items()))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="profile", description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training rows (Parquet)")
    parser.add_argument("--out", type=Path, required=True, help="reference profile (JSON)")
    args = parser.parse_args(argv)
    params = load_params()
    reference = profile(read_table(args.train), params.data.target)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, indent=2) + "\n")
    log.info("profiled %d features of %d rows", len(reference["features"]), reference["rows"])
