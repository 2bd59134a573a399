"""Typed view of params.yaml: a missing, misspelled or ill-typed key fails naming the key.

A stage you add keeps its parameters in a section named after it, checked by a model the
stage defines itself: `load_params().section("select", SelectParams)`.
"""

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import stages, yamlio
from .errors import PipelineError

Task = Literal["classification", "regression"]
Estimator = Literal["random_forest", "gradient_boosting", "linear"]


class Section(BaseModel):
    # protected_namespaces: deploy.model_name is a params.yaml key; pydantic < 2.10 warned.
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class DataParams(Section):
    source: str = Field(min_length=1)
    target: str = Field(min_length=1)


class SplitParams(Section):
    test_size: float = Field(gt=0, lt=1)
    seed: int


class TrainParams(Section):
    estimator: Estimator
    seed: int
    max_rows: int = Field(default=500_000, ge=1)  # larger data: a deterministic sample
    # Each estimator keeps its own keyword arguments, so switching is one change of
    # `estimator` and each keeps its settings while another is tried.
    random_forest: dict[str, Any] = Field(default_factory=dict)
    gradient_boosting: dict[str, Any] = Field(default_factory=dict)
    linear: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def no_shared_params(cls, data: Any) -> Any:
        if isinstance(data, dict) and "params" in data:
            raise ValueError(
                "train.params is now one section per estimator - move its keys to "
                "train.<estimator> (train.random_forest, train.gradient_boosting, train.linear)"
            )
        return data

    @property
    def estimator_params(self) -> dict[str, Any]:
        """The chosen estimator's keyword arguments: its section, train.<estimator>."""
        return dict(getattr(self, self.estimator))


class EvaluateParams(Section):
    importance_repeats: int = Field(default=5, ge=1)
    importance_max_rows: int = Field(default=2000, ge=10)


class DeployParams(Section):
    model_name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    metric: str = Field(min_length=1)
    threshold: float
    tolerance: float = Field(default=0.0, ge=0)
    evidence_rows: int = Field(default=0, ge=0)


class MonitorParams(Section):
    psi_threshold: float = Field(default=0.1, ge=0)
    p_value: float = Field(default=0.05, gt=0, lt=1)
    unseen_share: float = Field(default=0.01, ge=0, le=1)
    missing_rate_change: float = Field(default=0.1, ge=0, le=1)
    min_rows: int = Field(default=100, ge=1)


S = TypeVar("S", bound=BaseModel)


class Params(Section):
    # Sections beyond these belong to added stages, which check them (load_params).
    model_config = ConfigDict(extra="allow", frozen=True)

    task: Task
    data: DataParams
    split: SplitParams
    train: TrainParams
    evaluate: EvaluateParams = EvaluateParams()
    deploy: DeployParams
    monitor: MonitorParams = MonitorParams()

    def section(self, name: str, model: type[S]) -> S:
        """An added stage's own section, checked by the stage's model (absent: its defaults)."""
        try:
            return model.model_validate((self.model_extra or {}).get(name, {}))
        except ValidationError as error:
            raise PipelineError(
                f"params.yaml has invalid parameters:\n{problems(error, name)}"
            ) from error


def problems(error: ValidationError, prefix: str = "") -> str:
    """One line per bad key, with its full dotted name."""
    return "\n".join(
        f"  {'.'.join(str(part) for part in (prefix, *problem['loc']) if part != '')}: "
        f"{problem['msg']}"
        for problem in error.errors()
    )


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and check params.yaml."""
    path = Path(path)
    try:
        raw = yamlio.load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise PipelineError(f"cannot read {path}: {error}") from error
    try:
        params = Params.model_validate(raw or {})
    except ValidationError as error:
        raise PipelineError(f"{path} has invalid parameters:\n{problems(error)}") from error
    unknown = sorted(set(params.model_extra or {}) - set(stages.names()))
    if unknown:
        raise PipelineError(
            f"{path} has section(s) no stage reads: {', '.join(unknown)} - fix the name, or "
            "add the stage that reads it as stages/<name>.py"
        )
    return params
