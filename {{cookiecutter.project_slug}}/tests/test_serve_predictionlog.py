"""Prediction logging: whole lines, rotation within the size bound, and a full disk."""

import errno
import json
import threading

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.monitoring.monitor import read_logs
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.predictionlog import PredictionLog
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import AUTH, ROW, TOKEN, publish_tiny

pytestmark = pytest.mark.machinery


def lines(folder) -> list[dict]:
    return [json.loads(line) for path in folder.glob("predictions*.jsonl") for line in path.open()]


def test_concurrent_records_become_whole_lines(tmp_path) -> None:
    log = PredictionLog(tmp_path, max_bytes=50_000_000)
    log.start()

    def client(n: int) -> None:
        for i in range(500):
            log.record(
                "0001-abc", [{**ROW, "count": i, "client": n}], {"predictions": [i % 2]}, "primary"
            )

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.stop()
    entries = lines(tmp_path)
    assert len(entries) == 8000 == log.written
    assert {(e["inputs"][0]["client"], e["inputs"][0]["count"]) for e in entries} == {
        (n, i) for n in range(16) for i in range(500)
    }


def test_rotation_keeps_the_total_size_bounded(tmp_path) -> None:
    log = PredictionLog(tmp_path, max_bytes=100_000)
    log.start()
    for i in range(5000):
        log.record("0001-abc", [{**ROW, "count": i}], {"predictions": [1]}, "primary")
    log.stop()
    files = list(tmp_path.glob("predictions*.jsonl"))
    assert (tmp_path / "predictions.jsonl") in files and len(files) > 2
    assert sum(path.stat().st_size for path in files) <= 100_000
    assert all(path.stat().st_size <= 10_000 for path in files)
    kept = sorted(e["inputs"][0]["count"] for e in lines(tmp_path))
    assert kept[-1] == 4999, "the newest lines are kept"
    assert kept == list(range(kept[0], 5000)), "what is kept is contiguous: no line lost in it"


def test_a_request_too_large_for_a_file_is_counted_not_logged(tmp_path) -> None:
    """One large request never takes a file, or the folder, past the bound."""
    log = PredictionLog(tmp_path, max_bytes=100_000)
    log.start()
    for i in range(2000):
        log.record("0001-abc", [{**ROW, "count": i}], {"predictions": [1]}, "primary")
        if i == 1000:
            log.record(
                "0001-abc", [{**ROW, "colour": "x" * 30_000}], {"predictions": [1]}, "primary"
            )
    log.stop()
    files = list(tmp_path.glob("predictions*.jsonl"))
    assert all(path.stat().st_size <= 10_000 for path in files)
    assert sum(path.stat().st_size for path in files) <= 100_000
    assert log.too_large == 1 == log.status()["too_large"] and log.written == 2000
    assert all(len(e["inputs"][0]["colour"]) < 100 for e in lines(tmp_path))


def test_a_small_bound_holds_too(tmp_path) -> None:
    log = PredictionLog(tmp_path, max_bytes=3000)
    log.start()
    for i in range(30):  # about 3,600 bytes
        log.record("0001-abc", [{**ROW, "count": i}], {"predictions": [1]}, "primary")
    log.stop()
    assert sum(path.stat().st_size for path in tmp_path.glob("predictions*.jsonl")) <= 3000


def test_an_uncreatable_folder_is_a_clear_error_not_a_traceback(
    registry, mixed_frame, tmp_path, caplog
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    folder = blocker / "logs"
    with pytest.raises(SystemExit, match=r"^ERROR: SERVE_PREDICTION_LOG=.*cannot create"):
        Settings(model_name="tiny", prediction_log=str(folder)).check_prediction_log()
    # Started without that check (as the tests do): logging is off, serving carries on.
    publish_tiny(registry, mixed_frame)
    settings = Settings(
        MODEL_REGISTRY=str(registry.location.rsplit("/", 1)[0]),
        model_name="tiny",
        admin_token=TOKEN,
        prediction_log=str(folder),
    )
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", json={"records": [ROW]}).status_code == 200
        status = client.get("/admin/model", headers=AUTH).json()["prediction_log"]
        assert status["error"].startswith(f"prediction logging off: cannot create {folder}")
    assert "prediction logging off" in caplog.text


class FullDisk:
    """A log file on a full disk: the file opens, every write fails."""

    def __init__(self, path) -> None:
        path.touch()

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None: ...

    def close(self) -> None: ...


def test_a_full_disk_stops_logging_but_not_serving(registry, mixed_frame, tmp_path) -> None:
    publish_tiny(registry, mixed_frame)
    settings = Settings(
        MODEL_REGISTRY=str(registry.location.rsplit("/", 1)[0]),
        model_name="tiny",
        admin_token=TOKEN,
    )
    full_disk = PredictionLog(tmp_path / "logs", 1_000_000, opener=FullDisk)
    full_disk.start()
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.prediction_log = full_disk  # what every route uses (serve/dependencies.py)
        for _ in range(20):
            assert client.post("/predict", json={"records": [ROW]}).status_code == 200
        full_disk.stop()  # everything queued has been tried
        status = client.get("/admin/model", headers=AUTH).json()["prediction_log"]
        assert status["error"] == "prediction logging stopped: [Errno 28] No space left on device"
        assert status["written"] == 0
        assert client.post("/predict", json={"records": [ROW]}).status_code == 200
        dropped = client.get("/metrics").text
        assert 'serve_prediction_log_dropped_total{reason="stopped"}' in dropped


def test_monitor_reads_the_logs_back(tmp_path) -> None:
    log = PredictionLog(tmp_path, max_bytes=1_000_000)
    log.start()
    for i in range(30):
        log.record(
            "0001-abc", [ROW, {**ROW, "colour": None}], {"predictions": [i % 2, 1]}, "primary"
        )
    log.stop()
    frame, predictions, skipped = read_logs(tmp_path, list(ROW))
    assert len(frame) == len(predictions) == 60 and not skipped
    assert list(frame.columns) == ["size", "count", "colour"]
    assert frame["colour"].isna().sum() == 30
    pd.testing.assert_series_equal(predictions.iloc[:2], pd.Series([0, 1], dtype=object))


@pytest.mark.parametrize("bad", [b"{not json\n", b'{"inputs": 1}\n'])
def test_a_broken_line_is_skipped(tmp_path, bad) -> None:
    good = json.dumps({"inputs": [ROW], "outputs": {"predictions": [1]}}).encode() + b"\n"
    (tmp_path / "predictions.jsonl").write_bytes(good + bad + good)
    frame, _, skipped = read_logs(tmp_path, list(ROW))
    assert len(frame) == 2 and sum(skipped.values()) == 1
