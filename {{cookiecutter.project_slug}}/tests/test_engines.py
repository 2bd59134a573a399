"""The local and the Dask engine run the same stage code: on the same data in partitions
they keep the same rows, infer the same schema and train the same model, byte for byte.
(compute=dask projects; where Dask is not installed these tests are skipped.)"""

import contextlib
import logging
import signal
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

# Baked only with compute=dask (even where the dask extra is installed without it).
pytest.importorskip("{{ cookiecutter.package_name }}.pipeline.dask_tables")

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.pipeline import dask_tables, lost_callbacks, tables
from {{ cookiecutter.package_name }}.pipeline.model import save_model
from {{ cookiecutter.package_name }}.pipeline.schema import load_schema, save_schema
from {{ cookiecutter.package_name }}.stages.split import split
from {{ cookiecutter.package_name }}.stages.train import train, training_rows
from {{ cookiecutter.package_name }}.stages.validate import infer, validate

from .conftest import in_parts, make_params

pytestmark = pytest.mark.machinery

SCHEMA = Path("schema.yaml")


@pytest.fixture
def on_cluster(dask_client, monkeypatch):
    """Stages that open the cluster (running()) join the tests' cluster."""
    monkeypatch.setenv(dask_tables.SCHEDULER_VARIABLE, dask_client.scheduler.address)


def both(frame: pd.DataFrame, folder: Path) -> tuple:
    """The same four files opened by each engine."""
    in_parts(frame, folder, 4)
    return tables.open_table(folder), dask_tables.open_table(folder)


def test_same_split(dask_client, mixed_frame, tmp_path: Path) -> None:
    local, dask = both(mixed_frame, tmp_path / "parts")
    params = make_params(test_size=0.3, seed=9)
    for one, other in zip(split(local, params), split(dask, params), strict=True):
        pd.testing.assert_frame_equal(one.to_pandas(), other.to_pandas())


def test_same_validation_and_schema(dask_client, mixed_frame, tmp_path: Path) -> None:
    frame = mixed_frame.astype({"target": float})
    frame.loc[[3, 44], "target"] = None
    local, dask = both(frame, tmp_path / "parts")
    (valid, report), (dask_valid, dask_report) = (
        validate(table, None, SCHEMA, make_params()) for table in (local, dask)
    )
    assert report == dask_report
    pd.testing.assert_frame_equal(valid.to_pandas(), dask_valid.to_pandas())
    assert infer(valid, "target") == infer(dask_valid, "target")


def test_failure_names_the_same_partition(dask_client, mixed_frame, tmp_path: Path) -> None:
    save_schema(infer(tables.from_frame(mixed_frame), "target"), "memory", tmp_path / "s.yaml")
    schema = load_schema(tmp_path / "s.yaml", "memory")
    broken = mixed_frame.assign(count=mixed_frame["count"].where(mixed_frame.index != 50, -99))
    for table in both(broken, tmp_path / "parts"):
        with pytest.raises(PipelineError, match=r"'count' breaks rule .* row\(s\) of partition 2"):
            validate(table, schema, SCHEMA, make_params())[0].to_pandas()


@pytest.mark.parametrize("max_rows", [500_000, 50], ids=["all-rows", "sampled"])
def test_same_model_bytes(on_cluster, mixed_frame, tmp_path: Path, max_rows: int) -> None:
    """The forest's trees grow on the workers (joblib's dask backend) into the same model
    the local engine fits in this process, saved in the same bytes."""
    local, dask = both(mixed_frame, tmp_path / "parts")
    params = make_params(max_rows=max_rows)
    save_model(train(training_rows(local, params), params), tmp_path / "local.joblib")
    with dask_tables.running():
        model = train(training_rows(dask, params), params)
    save_model(model, tmp_path / "dask.joblib")
    assert (tmp_path / "local.joblib").read_bytes() == (tmp_path / "dask.joblib").read_bytes()


def test_a_rewritten_output_keeps_no_earlier_parts(dask_client, mixed_frame, tmp_path) -> None:
    out = tmp_path / "train.parquet"
    in_parts(mixed_frame, out, 4)  # an earlier, bigger run's parts
    assert dask_tables.from_frame(mixed_frame.head(7)).write(out) == 7
    assert len(pd.read_parquet(out)) == 7


def test_a_csv_type_that_changes_late_is_explained(dask_client, tmp_path) -> None:
    """dask guesses CSV types from the first rows: a missing integer far down fails clearly."""
    rows = pd.DataFrame({"count": range(30_000)}).astype("Int64")
    rows.loc[len(rows) - 1, "count"] = None
    rows.to_csv(tmp_path / "late.csv", index=False)
    with pytest.raises(PipelineError, match=r"convert the data to Parquet(.|\n)*\| count"):
        dask_tables.open_table(tmp_path / "late.csv").write(tmp_path / "out")


def test_a_scheduler_address_that_is_no_address_is_refused_in_one_line(monkeypatch) -> None:
    monkeypatch.setenv(dask_tables.SCHEDULER_VARIABLE, "not-a-url")
    refused = pytest.raises(PipelineError, match=r"DASK_SCHEDULER_ADDRESS=not-a-url: .*tcp://")
    with refused, dask_tables.running():
        pass


def test_a_listener_that_is_not_a_scheduler_is_refused_within_the_timeout(monkeypatch) -> None:
    """A port that takes connections but never answers as Dask does (the handshake after
    connecting has no timeout of Dask's own): refused once the connect timeout is over."""
    import dask

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # connections complete in the backlog; nothing ever answers
        port = listener.getsockname()[1]
        monkeypatch.setenv(dask_tables.SCHEDULER_VARIABLE, f"tcp://127.0.0.1:{port}")
        started = time.monotonic()
        refused = pytest.raises(PipelineError, match="no Dask handshake within 1 s")
        with dask.config.set({dask_tables.CONNECT_TIMEOUT: "1s"}), refused, dask_tables.running():
            pass
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("died", ["killed", "lost-data"])
def test_workers_that_die_are_said_in_one_line(on_cluster, died: str) -> None:
    """A task whose workers kept dying (KilledWorker), or that needed data a dead worker
    held (what joblib scattered to train a model): one line, not distributed's traceback."""
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError

    error = (
        KilledWorker("fit", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)
        if died == "killed"
        else FutureCancelledError("batch_of__parallel_build_trees", "lost dependencies")
    )
    refused = pytest.raises(PipelineError, match="a Dask worker died during this stage")
    with refused, dask_tables.running():
        raise error


def failed_in(filename: str):
    """A function raising the closed connection a killed worker leaves, as if defined in
    filename: the traceback tornado logs names joblib's Dask backend (joblib/_dask.py)."""
    code = "def scatter():\n    raise CommClosedError('ConnectionPool.scatter: Stream is closed')\n"
    namespace = {"CommClosedError": pytest.importorskip("distributed.comm").CommClosedError}
    exec(compile(code, filename, "exec"), namespace)
    return namespace["scatter"]


def log_callback_failure(scatter, delay: float = 0.0) -> None:
    """What tornado logs when a callback on the client's event loop raised."""
    time.sleep(delay)
    try:
        scatter()
    except Exception:
        logging.getLogger("tornado.application").error("Exception in callback", exc_info=True)


def test_work_lost_in_a_callback_stops_the_stage_in_one_line(on_cluster, caplog) -> None:
    """A worker killed while joblib's Dask backend hands it rows: the callback's closed
    connection is only logged (by tornado, from the client's event loop thread) and joblib
    would wait forever; the stage stops in one line instead, and Ctrl-C is as it was."""
    before = signal.getsignal(signal.SIGINT)
    scatter = failed_in("/venv/site-packages/joblib/_dask.py")
    refused = pytest.raises(
        PipelineError, match=r"died during this stage \(CommClosedError: .*Stream is closed\)"
    )
    with refused, dask_tables.running():
        threading.Thread(target=log_callback_failure, args=(scatter, 0.2)).start()
        time.sleep(60)  # as joblib waits for the lost batch: without the watch, no error
    assert "Exception in callback" not in caplog.text  # the one line says it
    assert signal.getsignal(signal.SIGINT) is before


def test_other_callback_errors_stay_in_the_log(caplog) -> None:
    """Only joblib's lost work stops a stage: any other failed callback (a dashboard's
    stream, a periodic task) is logged as before, and Dask recovers or not on its own."""
    with lost_callbacks.interrupted_on_lost_callback():
        log_callback_failure(failed_in("/venv/site-packages/distributed/comm/tcp.py"))
        time.sleep(0.1)
    assert "Exception in callback" in caplog.text


def test_work_lost_as_the_stage_ends_leaves_sigint_as_it_was() -> None:
    """The signal may come while the stage is leaving the watch: SIGINT's handler is put
    back whatever it met."""
    before = signal.getsignal(signal.SIGINT)
    scatter = failed_in("/venv/site-packages/joblib/_dask.py")
    lost = contextlib.suppress(lost_callbacks.CallbackLost)
    for _ in range(20):
        with lost, lost_callbacks.interrupted_on_lost_callback():
            log_callback_failure(scatter)
        assert signal.getsignal(signal.SIGINT) is before


def test_a_worker_that_dies_as_the_local_cluster_starts_is_said_in_one_line(monkeypatch) -> None:
    def dies(*args, **kwargs):
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.delenv(dask_tables.SCHEDULER_VARIABLE, raising=False)
    monkeypatch.setattr(dask_tables, "LocalCluster", dies)
    refused = pytest.raises(PipelineError, match=r"could not start its workers .* run the stage")
    with refused, dask_tables.running():
        pass
