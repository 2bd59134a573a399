"""Fast tier: `make demo` prints the server's answers without binary float noise."""

import importlib.util

from .conftest import TEMPLATE

spec = importlib.util.spec_from_file_location("demo_serve", TEMPLATE / "scripts/demo_serve.py")
demo_serve = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo_serve)


def test_printed_answers_round_floats_to_12_significant_digits() -> None:
    answer = {
        "predictions": [21.246999999999993, 1],
        "probabilities": [[0.30000000000000004, 0.7]],
        "model_version": "0001-abc",
    }
    assert demo_serve.readable(answer) == {
        "predictions": [21.247, 1],
        "probabilities": [[0.3, 0.7]],
        "model_version": "0001-abc",
    }
    assert str(demo_serve.readable(1234567.891)) == "1234567.891"
