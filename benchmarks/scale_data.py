"""A synthetic classification dataset as Parquet partitions, any size, in bounded memory.

    .venv/bin/python benchmarks/scale_data.py <rows> <folder> [--part-rows 100000] [--seed 0]

Writes <folder>/part-00000.parquet, ... of --part-rows rows each (the last may be shorter):
20 features, 14 numeric (`num00`...) and 6 categorical strings (`cat00`...), about 5% of
each missing, and `label`, 0 or 1, drawn from a logistic model of some of them, so a model
has something to learn (a forest reaches a ROC AUC near 0.95). Each partition is generated
on its own from (seed, partition number): memory holds one partition, never the dataset, and
the same arguments write the same bytes.
"""

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUMERIC = 14
CATEGORIES = {  # column: its values (cardinalities 3 to 50, as in real data)
    "cat00": [f"region-{i}" for i in range(8)],
    "cat01": ["basic", "plus", "premium"],
    "cat02": [f"product-{i:02d}" for i in range(50)],
    "cat03": ["web", "store", "phone", "partner"],
    "cat04": [f"team-{i:02d}" for i in range(20)],
    "cat05": ["a", "b", "c", "d", "e"],
}
MISSING = 0.05
TARGET = "label"


def effects(seed: int) -> dict[str, np.ndarray]:
    """A fixed effect on the label for each category, the same in every partition."""
    rng = np.random.default_rng([seed, 1_000_000])
    return {name: rng.normal(0, 1.0, len(values)) for name, values in CATEGORIES.items()}


def partition(rows: int, seed: int, number: int) -> pa.Table:
    """Partition `number` of the dataset: its rows depend on (seed, number) alone."""
    rng = np.random.default_rng([seed, number])
    numeric = rng.normal(0, 1, (rows, NUMERIC))
    codes = {name: rng.integers(0, len(values), rows) for name, values in CATEGORIES.items()}
    score = (
        1.5 * numeric[:, 0]
        - 1.2 * numeric[:, 1]
        + 0.8 * numeric[:, 2] * numeric[:, 3]
        + 0.7 * np.abs(numeric[:, 4])
        - 0.5
    )
    for name, effect in effects(seed).items():
        score += 0.6 * effect[codes[name]]
    label = (rng.random(rows) < 1 / (1 + np.exp(-3 * score))).astype(np.int64)

    columns: dict[str, pa.Array] = {}
    for i in range(NUMERIC):
        values = numeric[:, i].round(4)
        columns[f"num{i:02d}"] = pa.array(values, mask=rng.random(rows) < MISSING)
    for name, values in CATEGORIES.items():
        dictionary = np.array(values, dtype=object)
        columns[name] = pa.array(
            dictionary[codes[name]], pa.string(), mask=rng.random(rows) < MISSING
        )
    columns[TARGET] = pa.array(label)
    return pa.table(columns)


def write(rows: int, folder: Path, part_rows: int = 100_000, seed: int = 0) -> int:
    """Write the dataset; return its number of partitions (files)."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = -(-rows // part_rows)
    for number in range(parts):
        size = min(part_rows, rows - number * part_rows)
        pq.write_table(partition(size, seed, number), folder / f"part-{number:05d}.parquet")
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rows", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--part-rows", type=int, default=100_000, help="rows per file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    parts = write(args.rows, args.folder, args.part_rows, args.seed)
    print(f"wrote {args.rows:,} rows in {parts} files to {args.folder}")


if __name__ == "__main__":
    main()
