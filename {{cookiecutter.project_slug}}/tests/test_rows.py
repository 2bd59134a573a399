import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.pipeline.engine import from_frame
from {{ cookiecutter.package_name }}.pipeline.rows import sample, uniform

pytestmark = pytest.mark.machinery


def test_a_sample_of_the_training_rows_is_not_tied_to_the_split() -> None:
    """train.seed and split.seed are equal by default: a sample of the training rows
    keyed like the split would keep a narrow band of them, none below test_size."""
    frame = pd.DataFrame({"x": np.arange(10_000), "y": np.arange(10_000) % 3})
    training = frame[uniform(frame, 42) >= 0.2]  # the split's training rows, seed 42
    kept = sample(from_frame(training), 1_000, seed=42, total=len(training))
    assert 900 <= len(kept) <= 1_000


def test_the_seed_changes_the_hash_of_numbers() -> None:
    """pandas keys the hash of text columns only: numbers need the seed mixed in."""
    frame = pd.DataFrame({"x": np.arange(1_000), "y": np.arange(1_000) * 0.5})
    assert not np.array_equal(uniform(frame, 1) < 0.5, uniform(frame, 2) < 0.5)
