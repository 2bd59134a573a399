from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.params import load_params


def test_project_params_load() -> None:
    """The committed params.yaml is valid."""
    params = load_params("params.yaml")
    assert params.task in ("classification", "regression")


def test_misspelled_key_is_named(tmp_path: Path) -> None:
    """A misspelled key fails with its dotted name."""
    text = Path("params.yaml").read_text().replace("test_size:", "test_sise:")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(PipelineError, match=r"split\.test_sise"):
        load_params(tmp_path / "params.yaml")


def test_unknown_estimator_is_named(tmp_path: Path) -> None:
    """An estimator outside the supported set fails naming train.estimator."""
    text = Path("params.yaml").read_text().replace("estimator: random_forest", "estimator: svm")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(PipelineError, match=r"train\.estimator"):
        load_params(tmp_path / "params.yaml")
