"""Write a synthetic classification CSV with numeric and text columns and missing values.

Run inside a baked project with its environment: python synthetic_data.py <rows> <path>.
"""

import sys

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification


def main(rows: int, path: str) -> None:
    features, label = make_classification(
        n_samples=rows, n_features=20, n_informative=8, random_state=0
    )
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(20)]).round(4)
    rng = np.random.default_rng(0)
    frame["segment"] = rng.choice(["north", "south", "east", "west"], rows)
    frame["tier"] = np.where(frame["x0"] > 0, "gold", "silver")
    frame.loc[rng.random(rows) < 0.05, "x1"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "segment"] = None
    frame["label"] = label
    frame.to_csv(path, index=False)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
