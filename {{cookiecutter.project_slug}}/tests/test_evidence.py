"""make promote on live evidence: enough rows with outcomes, and no worse than the bar."""

import json

import pytest

from {{ cookiecutter.package_name }}.deploy.evidence import live_evidence
from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.monitoring import outcomes, performance
from {{ cookiecutter.package_name }}.monitoring.outcomes import PredictionIds, folder_key

from .conftest import make_params, publish_tiny

pytestmark = pytest.mark.machinery


def with_evidence_rows(rows: int, tolerance: float = 0.0):
    params = make_params()
    deploy = params.deploy.model_copy(update={"evidence_rows": rows, "tolerance": tolerance})
    return params.model_copy(update={"deploy": deploy})


@pytest.fixture
def shadowed(registry, mixed_frame, tmp_path, monkeypatch):
    """Production's version answered 40 rows, staging's shadowed them; writes the log and
    outcomes: production right on `production_right` rows, staging on `staging_right`."""
    production = publish_tiny(registry, mixed_frame)
    staging = publish_tiny(registry, mixed_frame, estimator="linear")
    registry.promote(production)
    monkeypatch.setattr(performance, "registry", lambda params: registry)
    logs = tmp_path / "logs"
    logs.mkdir()

    def write(rows: int, production_right: int, staging_right: int) -> None:
        ids = PredictionIds(folder_key(logs)).new(rows)
        truth = [row % 2 for row in range(rows)]

        def answers(right: int) -> list[int]:
            return [t if row < right else 1 - t for row, t in enumerate(truth)]

        with (logs / "predictions.jsonl").open("w") as handle:
            for version, role, right in (
                (production, "primary", production_right),
                (staging, "shadow", staging_right),
            ):
                outputs = {"predictions": answers(right)}
                line = {"time": 1.0, "model_version": version, "role": role}
                handle.write(json.dumps(line | {"prediction_ids": ids, "outputs": outputs}) + "\n")
        (logs / "outcomes.jsonl").write_bytes(
            outcomes.lines(list(zip(ids, truth, strict=True)), 2.0)
        )

    return write, logs, production, staging


def test_too_few_rows_are_no_evidence(shadowed) -> None:
    write, logs, production, staging = shadowed
    write(rows=20, production_right=15, staging_right=20)
    with pytest.raises(PipelineError, match=f"{staging} has 20 live row.*asks for 30"):
        live_evidence(logs, staging, production, with_evidence_rows(30))


def test_enough_rows_and_a_better_live_metric_pass(shadowed) -> None:
    write, logs, production, staging = shadowed
    write(rows=40, production_right=30, staging_right=38)
    said = live_evidence(logs, staging, production, with_evidence_rows(30))
    assert f"{staging}: accuracy=0.9500" in said and f"{production}: accuracy=0.7500" in said
    assert "agreeing with the answers on 80.0%" in said


def test_a_worse_live_metric_is_refused_beyond_the_tolerance(shadowed) -> None:
    write, logs, production, staging = shadowed
    write(rows=40, production_right=38, staging_right=30)
    with pytest.raises(PipelineError, match="is worse than"):
        live_evidence(logs, staging, production, with_evidence_rows(30))
    assert live_evidence(logs, staging, production, with_evidence_rows(30, tolerance=0.25))


def test_no_log_at_all_says_how_to_gather_evidence(tmp_path, registry, mixed_frame) -> None:
    version = publish_tiny(registry, mixed_frame)
    with pytest.raises(PipelineError, match=r"SERVE_SHADOW.*make feedback"):
        live_evidence(tmp_path / "nothing", version, None, with_evidence_rows(1))
