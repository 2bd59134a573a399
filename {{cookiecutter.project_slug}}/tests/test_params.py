from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, Field

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.params import load_params


def test_project_params_load() -> None:
    """The committed params.yaml is valid."""
    params = load_params("params.yaml")
    assert params.task in ("classification", "regression")


def edited(tmp_path: Path, change) -> Path:
    """The project's params.yaml with a change made to it, written to tmp_path: these tests
    hold whatever values the project chose (its estimator, its settings)."""
    params = yaml.safe_load(Path("params.yaml").read_text())
    change(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def test_training_rows_are_bounded(tmp_path: Path) -> None:
    """train.max_rows must be a positive number of rows."""
    assert load_params("params.yaml").train.max_rows > 0
    with pytest.raises(PipelineError, match=r"train\.max_rows"):
        load_params(edited(tmp_path, lambda params: params["train"].update(max_rows=0)))


def test_misspelled_key_is_named(tmp_path: Path) -> None:
    """A misspelled key fails with its dotted name."""

    def misspell(params: dict) -> None:
        params["split"]["test_sise"] = params["split"].pop("test_size")

    with pytest.raises(PipelineError, match=r"split\.test_sise"):
        load_params(edited(tmp_path, misspell))


def test_unknown_estimator_is_named(tmp_path: Path) -> None:
    """An estimator outside the supported set fails naming train.estimator and the valid ones."""
    path = edited(tmp_path, lambda params: params["train"].update(estimator="svm"))
    with pytest.raises(PipelineError, match=r"train\.estimator.*'random_forest'.*'linear'"):
        load_params(path)


def test_the_chosen_estimator_reads_its_own_section(tmp_path: Path) -> None:
    """Switching estimator is one change: each keeps its keyword arguments in its section."""

    def sections(estimator: str):
        def change(params: dict) -> None:
            params["train"].update(
                estimator=estimator,
                random_forest={"n_estimators": 7},
                gradient_boosting={"max_iter": 3},
            )

        return change

    path = edited(tmp_path, sections("random_forest"))
    assert load_params(path).train.estimator_params == {"n_estimators": 7}
    path = edited(tmp_path, sections("gradient_boosting"))
    assert load_params(path).train.estimator_params == {"max_iter": 3}


def test_shared_estimator_params_are_refused(tmp_path: Path) -> None:
    """The former train.params section fails saying where its keys go now."""
    path = edited(tmp_path, lambda params: params["train"].update(params={"n_estimators": 7}))
    with pytest.raises(PipelineError, match=r"move its keys to train\.<estimator>"):
        load_params(path)


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
