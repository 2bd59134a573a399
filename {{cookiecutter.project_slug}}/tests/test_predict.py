"""`predict`: a dataset scored with the served version into Parquet parts, and fed to monitor."""

import json
import shutil
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }} import scoring
from {{ cookiecutter.package_name }}.cli import main as cli
from {{ cookiecutter.package_name }}.deploy import bundle
from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.pipeline import engine, tables

from .conftest import make_params, publish_tiny, small_frame
from .project_data import PROJECT

pytestmark = [pytest.mark.machinery, pytest.mark.usefixtures("session_cluster")]

LOCAL = engine.open_table is tables.open_table  # chunks of rows are the local engine's


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder with params.yaml and an empty registry of its own."""
    shutil.copy(PROJECT / "dvc.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODEL_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.delenv("DEPLOY_ENV", raising=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(make_params().model_dump()))
    return tmp_path


@pytest.fixture
def version(project: Path, mixed_frame: pd.DataFrame) -> str:
    return publish_tiny(Registry(str(project / "registry"), "tiny"), mixed_frame)


def run(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["prog", *map(str, args)])
    try:
        return cli()
    except SystemExit as exit:
        return exit.code


def in_parts(frame: pd.DataFrame, folder: Path, rows: int) -> None:
    folder.mkdir()
    for number, start in enumerate(range(0, len(frame), rows)):
        frame.iloc[start : start + rows].to_parquet(folder / f"part-{number:05d}.parquet")


def test_a_folder_of_parts_is_scored_row_for_row(project, monkeypatch, mixed_frame, version):
    rows = mixed_frame.drop(columns=["target"]).assign(id=range(len(mixed_frame)))
    in_parts(rows, project / "data", 30)
    assert run(monkeypatch, "predict", "data", "--out", "out") == 0
    scored = pd.read_parquet("out")
    assert len(scored) == len(rows) and scored["id"].tolist() == rows["id"].tolist()
    outputs = ["prediction", "probability_0", "probability_1", "model_version"]
    assert list(scored.columns) == [*rows.columns, *outputs]
    assert (scored["model_version"] == version).all()
    assert np.allclose(scored["probability_0"] + scored["probability_1"], 1)
    if LOCAL:
        assert sorted(path.name for path in (project / "out").iterdir()) == [
            "part-00000.parquet",
            "part-00001.parquet",
            "part-00002.parquet",
        ]


def test_the_outputs_are_the_servers(project, monkeypatch, mixed_frame, version) -> None:
    """Rows scored in bulk get what the server answers for them one request at a time."""
    mixed_frame.to_parquet("rows.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", "out") == 0
    scored = pd.read_parquet("out")
    loaded = scoring.served_model(None)
    features = loaded.manifest["features"]
    names = [feature["name"] for feature in features]
    requests = [tuple(row[name] for name in names) for row in bundle.records(mixed_frame)]
    frame = bundle.frame_from_rows(requests, features)
    served = loaded.outputs(frame)
    assert scored["prediction"].tolist() == served["predictions"]
    probabilities = scored[["probability_0", "probability_1"]].to_numpy()
    assert np.allclose(probabilities, served["probabilities"], atol=1e-12)
    # Through the graph (the tiny forest converts) and within its tolerance of scikit-learn.
    assert loaded.runtime == "onnx"
    sklearn = bundle.outputs(loaded.model, frame)
    assert scored["prediction"].tolist() == sklearn["predictions"]
    assert np.allclose(probabilities, sklearn["probabilities"], atol=1e-5)


@pytest.mark.skipif(not LOCAL, reason="chunks of rows are the local engine's partitions")
def test_a_big_file_is_scored_a_chunk_at_a_time(project, monkeypatch, mixed_frame, version):
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 30)
    mixed_frame.to_parquet("rows.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", "out") == 0
    assert len(list((project / "out").iterdir())) == 3
    assert len(pd.read_parquet("out")) == len(mixed_frame)


def test_an_earlier_runs_parts_are_replaced(project, monkeypatch, mixed_frame, version):
    (project / "out").mkdir()
    for number in range(5):
        mixed_frame.head(1).to_parquet(project / "out" / f"part-{number + 3:05d}.parquet")
    mixed_frame.to_parquet("rows.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", "out") == 0
    assert len(pd.read_parquet("out")) == len(mixed_frame), "stale parts were left"


def test_an_out_holding_other_files_is_refused(project, monkeypatch, capsys, mixed_frame, version):
    (project / "out").mkdir()
    (project / "out" / "notes.txt").write_text("mine")
    (project / "out" / "part-00000.parquet").write_text("an earlier part")
    mixed_frame.to_parquet("rows.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", "out") == 1
    assert "holds files other than part-*.parquet (notes.txt)" in capsys.readouterr().err
    assert (project / "out" / "notes.txt").exists()
    assert (project / "out" / "part-00000.parquet").read_text() == "an earlier part"


def test_an_out_holding_the_data_is_refused(project, monkeypatch, capsys, mixed_frame, version):
    in_parts(mixed_frame.drop(columns=["target"]), project / "scored", 30)
    assert run(monkeypatch, "predict", "scored", "--out", "scored") == 1
    assert "holds the data being scored" in capsys.readouterr().err
    assert len(pd.read_parquet("scored")) == len(mixed_frame), "the data was deleted"


def test_the_data_is_found_in_out_however_spelled(project, monkeypatch, mixed_frame, version):
    in_parts(mixed_frame.drop(columns=["target"]), project / "scored", 30)
    (project / "link").symlink_to(project / "scored")
    for out in ("data/../scored", "link"):
        assert run(monkeypatch, "predict", "scored", "--out", out) == 1
    assert len(pd.read_parquet("scored")) == len(mixed_frame), "the data was deleted"


def test_a_failed_run_keeps_the_earlier_parts(project, monkeypatch, mixed_frame, version):
    mixed_frame.to_parquet("rows.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", "out") == 0
    pd.DataFrame({"other": [1, 2]}).to_parquet("unscorable.parquet")
    assert run(monkeypatch, "predict", "unscorable.parquet", "--out", "out") == 2
    assert len(pd.read_parquet("out")) == len(mixed_frame), "the earlier parts were deleted"


def test_nothing_deployed_is_said(project, monkeypatch, capsys, mixed_frame) -> None:
    mixed_frame.to_parquet("rows.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", "out") == 1
    assert "production serves no version" in capsys.readouterr().err
    assert not (project / "out").exists()


def test_rows_without_the_models_columns_are_refused(project, monkeypatch, capsys, version):
    pd.DataFrame({"a": [1, 2]}).to_parquet("rows.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", "out") == 2
    assert "lacks 3 of the model's 3 input columns" in capsys.readouterr().err


def test_the_output_feeds_monitor(project, monkeypatch, mixed_frame, version) -> None:
    in_parts(mixed_frame, project / "data", 30)
    assert run(monkeypatch, "predict", "data", "--out", "out") == 0
    assert run(monkeypatch, "monitor", "out") == 0
    report = json.loads((project / "reports/drift.json").read_text())
    assert report["rows"] == len(mixed_frame) and report["reference"].startswith("production")


def files_in(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_run_that_fails_midway_leaves_the_last_output_whole(
    project, monkeypatch, mixed_frame, version
):
    """Rows past the first chunk (or partition) that cannot be scored: the parts written so
    far are thrown away with the run, and OUT keeps the earlier run's parts, every one."""
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 30)
    rows = mixed_frame.drop(columns=["target"])
    in_parts(rows, project / "data", 30)
    assert run(monkeypatch, "predict", "data", "--out", "out") == 0
    before = files_in(project / "out")
    broken = rows.copy()
    broken.loc[broken.index[70], "size"] = np.inf
    in_parts(broken, project / "broken", 30)
    assert run(monkeypatch, "predict", "broken", "--out", "out") == 2
    assert files_in(project / "out") == before
    assert [path.name for path in project.iterdir() if path.name.startswith(".")] == []


@pytest.mark.skipif(not LOCAL, reason="the local engine writes the parts in this process")
def test_a_run_stopped_while_writing_leaves_out_as_it_was(
    project, monkeypatch, mixed_frame, version
):
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 30)
    mixed_frame.to_parquet("rows.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", "out") == 0
    before = files_in(project / "out")
    written = []

    def stopped_after_one(frame, location):
        if written:
            raise KeyboardInterrupt  # as a SIGINT would, between two parts
        written.append(location)
        Path(location).parent.mkdir()
        frame.to_parquet(location)

    monkeypatch.setattr(tables, "write_part", stopped_after_one)
    with pytest.raises(KeyboardInterrupt):
        run(monkeypatch, "predict", "rows.parquet", "--out", "out")
    assert files_in(project / "out") == before
    assert not Path(written[0]).parent.exists(), "the stopped run's parts were left behind"


@pytest.mark.skipif(not LOCAL, reason="memory:// is this process's own: Dask's workers lack it")
def test_an_object_store_out_is_replaced_whole_or_marked_incomplete(
    project, monkeypatch, capsys, mixed_frame, version
):
    """No rename there: the new parts are copied in under _INCOMPLETE, which readers refuse
    until a run completes."""
    import fsspec

    monkeypatch.setattr(scoring, "CHUNK_ROWS", 30)
    memory = fsspec.filesystem("memory")
    out = f"memory://predict-{version}/out"
    mixed_frame.to_parquet("rows.parquet")
    mixed_frame.head(20).to_parquet("few.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", out) == 0
    assert run(monkeypatch, "predict", "few.parquet", "--out", out) == 0
    assert [name.rsplit("/", 1)[-1] for name in memory.ls(out, detail=False)] == [
        "part-00000.parquet"
    ]
    assert len(memory.ls(f"memory://predict-{version}", detail=False)) == 1, "a staged copy"

    def cut_short(self, source, target, **kwargs):
        raise OSError("the connection dropped")

    with monkeypatch.context() as dropping:  # undone alone: the other patches stay
        dropping.setattr(type(memory), "mv", cut_short)
        with pytest.raises(OSError, match="connection dropped"):
            run(monkeypatch, "predict", "rows.parquet", "--out", out)
    assert run(monkeypatch, "monitor", out) == 2
    assert "holds _INCOMPLETE: a `make predict` stopped while replacing" in capsys.readouterr().err
    assert run(monkeypatch, "predict", "rows.parquet", "--out", out) == 0
    assert len(pd.read_parquet(out)) == len(mixed_frame)
    memory.rm(f"memory://predict-{version}", recursive=True)


def ragged(path: Path) -> None:
    path.write_text("size,count,colour\n1.5,2,red\n3.5,4,blue,5,6\n")


def truncated(path: Path) -> None:
    whole = small_frame().drop(columns=["target"]).to_parquet()
    path.write_bytes(whole[: len(whole) // 2])


def with_size(values) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        rows = small_frame().drop(columns=["target"]).head(len(values))
        rows.assign(size=values).to_parquet(path)

    return write


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        ("empty.csv", lambda path: path.write_text(""), "empty.csv: No columns to parse"),
        ("ragged.csv", ragged, "Expected 3 fields in line 3, saw 5"),
        ("truncated.parquet", truncated, "cannot read"),
        (
            "inf.parquet",
            with_size([1.0, 2.0, np.inf]),
            "column 'size' holds inf in row 2 of partition 0: expected a finite number within "
            "±3.403e+38 (the model's float32)",
        ),
        ("huge.parquet", with_size([1.0, -1e39]), "column 'size' holds -1e+39 in row 1"),
        ("bool.parquet", with_size([True, False]), "column 'size' holds booleans where"),
        (
            "dates.parquet",
            with_size(pd.to_datetime(["2024-03-01", "2024-03-02"])),
            "column 'size' holds dates where the model expects numbers",
        ),
        (
            "decimal.parquet",
            with_size([Decimal("1.5"), Decimal("2.5")]),
            "column 'size' holds Decimal values where",
        ),
    ],
)
def test_rows_the_server_would_refuse_are_refused_alike_by_predict_and_monitor(
    project, monkeypatch, capsys, version, name, write, message
):
    """One line, exit 2 and nothing written, the same line from predict and monitor; never
    a traceback, nor a timestamp, boolean or decimal scored as a number."""
    write(project / name)
    assert run(monkeypatch, "predict", name, "--out", "out") == 2
    refused = capsys.readouterr().err
    assert message in refused and len(refused.strip().splitlines()) == 1, refused
    assert not (project / "out").exists()
    assert run(monkeypatch, "monitor", name) == 2
    assert capsys.readouterr().err.strip().splitlines()[0] == refused.strip()


@pytest.mark.parametrize(
    "out",
    [
        "data/processed/train.parquet",  # dvc.yaml's training set (a folder of parts on Dask)
        "data/scored",
        "models",
        "reports/plots",
        "registry/scored",
        "elsewhere/../models/scored",
        "link/scored",
        ".",
    ],
)
def test_an_out_the_pipeline_or_deploy_owns_is_refused(
    project, monkeypatch, capsys, mixed_frame, version, out
):
    (project / "data/processed").mkdir(parents=True)
    in_parts(mixed_frame.drop(columns=["target"]), project / "data/processed/train.parquet", 30)
    training = files_in(project / "data/processed/train.parquet")
    (project / "link").symlink_to(project / "data")
    mixed_frame.to_parquet("rows.parquet")
    assert run(monkeypatch, "predict", "rows.parquet", "--out", out) == 1
    assert "which the pipeline and deploy own" in capsys.readouterr().err
    assert files_in(project / "data/processed/train.parquet") == training
