"""`make ci`'s deploy check prints the served prediction as a person reads it."""

from contextlib import contextmanager

import pytest

from {{ cookiecutter.package_name }}.deploy import check

pytestmark = pytest.mark.machinery


def test_the_printed_prediction_has_no_float_noise(monkeypatch) -> None:
    """What is printed is rounded to 12 significant digits; the answer itself is not."""
    answer = {"predictions": [21.246999999999993, 3, "yes"], "model_version": "0001-abc"}
    manifest = {"name": "tiny", "version": "0001-abc", "smoke": {"rows": [{"size": 1.0}]}}

    @contextmanager
    def local_server(registry: str, name: str):
        yield "http://127.0.0.1:1"

    monkeypatch.setattr(check, "local_server", local_server)
    monkeypatch.setattr(check, "call", lambda url, body=None: (200, answer))
    said = check.serve_and_predict("registry", manifest)
    assert said.startswith("deploy check passed: version 0001-abc served [21.247, 3, 'yes'] at ")
    assert answer["predictions"][0] == 21.246999999999993
