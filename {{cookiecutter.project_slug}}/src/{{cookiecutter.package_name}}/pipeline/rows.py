"""Decide per row, from its values and a seed: which rows are held out, which are sampled.

A row's fate never depends on how the data is partitioned, in which order partitions are
processed or on how many workers, so the local and the Dask engine pick the same rows.
Equal rows share a fate, so a duplicated row is never on both sides of the split.
"""

import hashlib
import math

import numpy as np
import pandas as pd

UNIT = 2.0**-53  # the top 53 bits of a hash as a float in [0, 1)


def row_hash(frame: pd.DataFrame, seed: int | str) -> np.ndarray:
    """A 64-bit hash of each row's values (not its index), keyed by the seed.

    pandas' hash_key reaches text columns only, so the key is mixed into each row's hash
    here: otherwise a table of numbers would hash the same whatever the seed.
    """
    digest = hashlib.blake2b(str(seed).encode(), digest_size=8).digest()
    key = np.uint64(int.from_bytes(digest, "little"))
    hashed = pd.util.hash_pandas_object(frame, index=False, categorize=True)
    return mix(hashed.to_numpy(dtype=np.uint64) ^ key)


def mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: each output bit depends on every input bit."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def uniform(frame: pd.DataFrame, seed: int | str) -> np.ndarray:
    """Each row's hash as a number in [0, 1), uniform over rows with distinct values."""
    return (row_hash(frame, seed) >> np.uint64(11)).astype(np.float64) * UNIT


def sample_fraction(total: int, cap: int) -> float:
    """The share of rows to keep so that about `cap` of `total` are kept, rarely more.

    Three standard deviations under the cap: the few samples that still overshoot are
    trimmed to it: `sample` keeps the first `cap` rows in partition order.
    """
    if total <= cap:
        return 1.0
    return max(cap - 3 * math.sqrt(cap), 1) / total


def sample_mask(frame: pd.DataFrame, seed: int, fraction: float) -> np.ndarray:
    """The rows a deterministic sample of `fraction` keeps.

    Keyed apart from the split's hash: with one seed for both (train.seed and split.seed
    are both 42 by default), a sample of the training rows, whose split hash is at least
    test_size, would keep a narrow band of them, and none when fraction < test_size.
    """
    if fraction >= 1.0:
        return np.ones(len(frame), dtype=bool)
    return uniform(frame, f"sample-{seed}") < fraction


def count_rows(table) -> int:
    """The rows of a table (an engine's Table), counted partition by partition."""
    return sum(table.summarise(_length))


def sample(table, cap: int, seed: int, total: int | None = None) -> pd.DataFrame:
    """At most `cap` rows of a table, the same ones on any engine, in partition order.
    `total`: the table's rows, when the caller has counted them already."""
    fraction = sample_fraction(count_rows(table) if total is None else total, cap)
    return table.map(_kept, seed, fraction).to_pandas().iloc[:cap]


def _length(frame: pd.DataFrame, number: int) -> int:
    return len(frame)


def _kept(frame: pd.DataFrame, number: int, seed: int, fraction: float) -> pd.DataFrame:
    return frame[sample_mask(frame, seed, fraction)]
