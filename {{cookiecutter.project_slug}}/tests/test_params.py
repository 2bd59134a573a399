from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.params import load_params


def test_project_params_load() -> None:
    """The committed params.yaml is valid."""
    params = load_params("params.yaml")
    assert params.task in ("classification", "regression")


def test_training_rows_are_bounded(tmp_path: Path) -> None:
    """train.max_rows is set in params.yaml, and must be a positive number of rows."""
    assert load_params("params.yaml").train.max_rows == 500_000
    text = Path("params.yaml").read_text().replace("max_rows: 500000", "max_rows: 0")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(PipelineError, match=r"train\.max_rows"):
        load_params(tmp_path / "params.yaml")


def test_misspelled_key_is_named(tmp_path: Path) -> None:
    """A misspelled key fails with its dotted name."""
    text = Path("params.yaml").read_text().replace("test_size:", "test_sise:")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(PipelineError, match=r"split\.test_sise"):
        load_params(tmp_path / "params.yaml")


def test_unknown_estimator_is_named(tmp_path: Path) -> None:
    """An estimator outside the supported set fails naming train.estimator and the valid ones."""
    text = Path("params.yaml").read_text().replace("estimator: random_forest", "estimator: svm")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(PipelineError, match=r"train\.estimator.*'random_forest'.*'linear'"):
        load_params(tmp_path / "params.yaml")


def test_the_chosen_estimator_reads_its_own_section(tmp_path: Path) -> None:
    """Switching estimator is one change: each keeps its keyword arguments in its section."""
    assert load_params("params.yaml").train.estimator_params["n_estimators"] == 200
    text = Path("params.yaml").read_text()
    switched = text.replace("estimator: random_forest", "estimator: gradient_boosting")
    (tmp_path / "params.yaml").write_text(switched)
    assert load_params(tmp_path / "params.yaml").train.estimator_params == {
        "learning_rate": 0.1,
        "max_iter": 100,
    }


def test_shared_estimator_params_are_refused(tmp_path: Path) -> None:
    """The former train.params section fails saying where its keys go now."""
    text = Path("params.yaml").read_text().replace("  random_forest:", "  params:")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(PipelineError, match=r"move its keys to train\.<estimator>"):
        load_params(tmp_path / "params.yaml")


def test_a_section_no_stage_reads_is_named(tmp_path: Path) -> None:
    """A misspelled section is refused, since no module in stages/ carries its name."""
    text = Path("params.yaml").read_text() + "\nevalute:\n  importance_repeats: 2\n"
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(PipelineError, match="no stage reads: evalute"):
        load_params(tmp_path / "params.yaml")


class IngestExtras(BaseModel):
    chunk_rows: int = Field(default=1000, ge=1)


def test_an_added_stage_checks_its_own_section(tmp_path: Path) -> None:
    """A stage's section is read through the stage's model; a bad value names its key."""
    text = Path("params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text + "\ningest:\n  chunk_rows: 50\n")
    assert load_params(tmp_path / "params.yaml").section("ingest", IngestExtras).chunk_rows == 50
    (tmp_path / "params.yaml").write_text(text + "\ningest:\n  chunk_rows: 0\n")
    with pytest.raises(PipelineError, match=r"ingest\.chunk_rows"):
        load_params(tmp_path / "params.yaml").section("ingest", IngestExtras)
