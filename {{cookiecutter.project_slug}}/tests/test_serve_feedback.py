"""Prediction ids in answers and the log, and outcomes posted to POST /feedback."""

import json

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import AUTH, ROW, TOKEN, publish_tiny

pytestmark = pytest.mark.machinery


@pytest.fixture
def served(registry, mixed_frame, tmp_path):
    """A client of a server that logs to tmp_path/logs, and the logs' folder."""
    publish_tiny(registry, mixed_frame)

    def start(**settings):
        every = {
            "MODEL_REGISTRY": str(registry.location.rsplit("/", 1)[0]),
            "model_name": "tiny",
            "prediction_log": str(tmp_path / "logs"),
            "max_request_rows": 5,
        }
        return TestClient(create_app(Settings(**(every | settings))))

    return start, tmp_path / "logs"


def predict(client, rows: int = 2) -> dict:
    answer = client.post("/predict", json={"records": [ROW] * rows})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_each_row_has_an_id_in_the_answer_and_the_log(served) -> None:
    start, logs = served
    with start() as client:
        answer = predict(client, 3)
        ids = answer["prediction_ids"]
        assert len(set(ids)) == 3 and len(set(predict(client)["prediction_ids"]) | set(ids)) == 5
    [first, _] = [json.loads(line) for line in (logs / "predictions.jsonl").open()]
    assert first["prediction_ids"] == ids
    assert first["outputs"]["probabilities"] == answer["probabilities"]


def test_an_outcome_is_stored_once_per_id(served) -> None:
    start, logs = served
    with start() as client:
        ids = predict(client)["prediction_ids"]
        label = predict(client)["predictions"][0]  # a class the model knows, as JSON has it
        body = {"outcomes": [{"prediction_id": i, "label": label} for i in ids]}
        assert client.post("/feedback", json=body).json() == {"stored": 2, "already_stored": 0}
        assert client.post("/feedback", json=body).json() == {"stored": 0, "already_stored": 2}
    with start() as client:  # a restarted server knows its ids and what is stored
        assert client.post("/feedback", json=body).json() == {"stored": 0, "already_stored": 2}
    stored = [json.loads(line) for line in (logs / "outcomes.jsonl").open()]
    assert [entry["prediction_id"] for entry in stored] == ids


@pytest.mark.parametrize(
    ("outcomes", "detail"),
    [
        ("UNKNOWN", "is not an id this server issued"),
        ("DUPLICATE", "in this request twice"),
        ("WRONG_TYPE", "not one of the model's classes"),
        ("TOO_MANY", "over the limit of 5"),
    ],
)
def test_bad_feedback_is_refused_with_the_item_named(served, outcomes, detail) -> None:
    start, logs = served
    with start() as client:
        ids = predict(client, 5)["prediction_ids"] + predict(client)["prediction_ids"]
        label = predict(client)["predictions"][0]
        wrong = str(label) if not isinstance(label, str) else 1
        outcomes = {
            "UNKNOWN": [{"prediction_id": "0" * 32 + "-0", "label": label}],
            "DUPLICATE": [{"prediction_id": ids[0], "label": label}] * 2,
            "WRONG_TYPE": [{"prediction_id": ids[0], "label": wrong}],
            "TOO_MANY": [{"prediction_id": i, "label": label} for i in ids],
        }[outcomes]
        answer = client.post("/feedback", json={"outcomes": outcomes})
        assert answer.status_code == 422 and detail in answer.json()["detail"], answer.text
    assert not (logs / "outcomes.jsonl").exists(), "nothing stored from a refused body"


def test_an_oversize_feedback_body_gets_413(served) -> None:
    start, _ = served
    with start(max_body_mb=0.001) as client:
        body = {"outcomes": [{"prediction_id": "x" * 2000, "label": 1}]}
        assert client.post("/feedback", json=body).status_code == 413


def test_feedback_needs_the_log_and_beyond_loopback_a_token(served) -> None:
    start, _ = served
    with start(prediction_log="") as client:
        ids = predict(client)["prediction_ids"]
        body = {"outcomes": [{"prediction_id": ids[0], "label": 1}]}
        answer = client.post("/feedback", json=body)
        assert answer.status_code == 409 and "SERVE_PREDICTION_LOG" in answer.json()["detail"]
    with start(feedback_token="f" * 32, admin_token=TOKEN) as client:
        ids = predict(client)["prediction_ids"]
        body = {"outcomes": [{"prediction_id": ids[0], "label": predict(client)["predictions"][0]}]}
        assert client.post("/feedback", json=body).status_code == 401
        wrong = {"Authorization": "Bearer " + "g" * 32}
        assert client.post("/feedback", json=body, headers=wrong).status_code == 403
        feedback_token = {"Authorization": "Bearer " + "f" * 32}
        assert client.post("/feedback", json=body, headers=feedback_token).status_code == 200
        assert client.post("/feedback", json=body, headers=AUTH).json()["already_stored"] == 1
