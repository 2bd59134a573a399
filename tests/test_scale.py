"""Slow tier: the Dask engine (compute=dask) from a laptop's local cluster to an external one.

One bake serves the module: compute=dask, the s3 remote (whose plugin brings s3fs) and a
package named unlike its slug (churn-model, package churn), installed by `make install`,
its `make ci` run on a LocalCluster and committed. On it: an external scheduler with one
worker, then two, writes the same dvc.lock; the local engine picks the same split and gets
the same metrics; `make predict` scores a multi-part dataset in moto's S3 server row for
row; validation on a folder of parts names the column, rule and partition of a bad row; a
scheduler address that is no Dask scheduler, and a worker killed as train starts, stop a
stage in one line (or the worker is replaced), never with a hang or a traceback.
"""

import difflib
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from itertools import pairwise
from pathlib import Path

import boto3  # comes with moto
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from .conftest import HIDDEN, bake, free_port, run, server, tool
from .test_generated import installed_extras

pytestmark = pytest.mark.slow  # make test keeps a module on one worker (--dist loadscope)
SLUG, PACKAGE = "churn-model", "churn"
BIN = Path(sys.executable).parent
SCHEDULER = "DASK_SCHEDULER_ADDRESS"
# Run in the project's .venv (distributed is there, not in the template's environment).
WAIT_FOR_WORKERS = """
import sys
from distributed import Client
with Client(sys.argv[1], timeout="60s") as client:
    client.wait_for_workers(int(sys.argv[2]), timeout=180)
    print(len(client.scheduler_info()["workers"]))
"""
TASKS_DONE = """
import json, sys
from distributed import Client
with Client(sys.argv[1], timeout="60s") as client:
    print(json.dumps(client.run(lambda dask_worker: dask_worker.state.executed_count)))
"""
# The command line with the local engine (tables.py) in place of the baked Dask one: the
# stages take the engine's names when they are imported, which happens after the swap.
LOCAL_ENGINE = """
import sys
from {package}.pipeline import engine, tables
assert not any(name.startswith("{package}.stages.") for name in sys.modules)
for name in engine.__all__:
    setattr(engine, name, getattr(tables, name))
from {package}.cli import main
sys.argv[0] = "{package}"
sys.exit(main())
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The dask bake after `make install && make ci` on a LocalCluster, committed."""
    root = bake(
        tmp_path_factory.mktemp("scale"),
        project_slug=SLUG,
        package_name=PACKAGE,
        compute="dask",
        dvc_remote="s3",
    )
    run("make install", root)
    assert installed_extras(root) == {"serve", "s3", "dask"}
    # Every test runs, as in CI; coverage (a sixth of their CPU) is checked on the default bake.
    result = run("make ci TESTS=all", root, env={"PYTEST_ADDOPTS": "--no-cov"})
    (root / "ci.log").write_text(result.stdout + result.stderr)
    run("git add --all && git commit -qm 'Run the pipeline on a local cluster'", root)
    return root


def pipeline_paths(project: Path) -> dict[str, str]:
    """dvc.yaml's `paths`: the files the stages pass on."""
    variables = yaml.safe_load((project / "dvc.yaml").read_text())["vars"]
    return next(block["paths"] for block in variables if "paths" in block)


def test_make_ci_passes_on_a_local_cluster(project: Path) -> None:
    """verify included; the stages ran on Dask, which writes intermediates as folders of parts."""
    output = (project / "ci.log").read_text()
    assert "dvc.lock is new" in output and "deploy check passed" in output, output[-3000:]
    assert "Dask dashboard:" in output, output[-3000:]
    assert "warnings summary" not in output, output[output.find("warnings summary") :][:3000]
    paths = pipeline_paths(project)
    for name in ("raw", "validated", "train", "test"):
        folder = project / paths[name]
        assert folder.is_dir() and (folder / "part-00000.parquet").is_file(), folder


def test_package_named_unlike_its_slug_imports_from_src_and_builds_its_wheel(
    project: Path,
) -> None:
    """churn-model with package churn: src/churn is what imports and what the wheel ships."""
    assert project.name == SLUG
    assert sorted(p.name for p in (project / "src").iterdir()) == [PACKAGE]
    where = run(f".venv/bin/python -c 'import {PACKAGE}; print({PACKAGE}.__file__)'", project)
    assert Path(where.stdout.strip()) == project / "src" / PACKAGE / "__init__.py"
    dist = project.parent / "dist"  # outside the repository: the later tests see it clean
    uv = '"${UV:-$(command -v uv || echo .tools/bin/uv)}"'
    run(f"{uv} build --wheel --out-dir {dist}", project)
    (wheel,) = dist.glob("churn_model-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert f"{PACKAGE}/__init__.py" in names
    assert not any(name.startswith(("src/", "churn_model/")) for name in names), names


@contextmanager
def started(command: list[str], log: Path, cwd: Path) -> Iterator[subprocess.Popen]:
    """A background process in its own process group, stopped (group and all) at the end."""
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def dask_cluster(project: Path, workers: int, folder: Path) -> Iterator[str]:
    """A scheduler and `workers` worker processes (a thread each) on 127.0.0.1, from the
    project's .venv; yields the scheduler's address once every worker has registered.

    The workers start in their own folder, not the project's, as they would on another
    machine: the stages must not depend on a worker's working directory. If this test
    dies, the scheduler stops when idle and the workers when it is gone.
    """
    dask = str(project / ".venv/bin/dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port)]
    scheduler += ["--no-dashboard", "--idle-timeout", "900"]
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    with ExitStack() as stack:
        stack.enter_context(server(scheduler, port, folder / "scheduler.log", folder, env))
        for number in range(workers):
            worker = [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1"]
            worker += ["--no-nanny", "--no-dashboard", "--death-timeout", "60"]
            worker += ["--local-directory", str(folder), "--name", f"worker-{number}"]
            stack.enter_context(started(worker, folder / f"worker-{number}.log", folder))
        registered = run(
            f".venv/bin/python -c '{WAIT_FOR_WORKERS}' {address} {workers}", project
        ).stdout
        assert int(registered) == workers, registered
        yield address


def test_an_external_scheduler_with_one_or_two_workers_writes_the_same_lock(
    project: Path, tmp_path: Path
) -> None:
    """DASK_SCHEDULER_ADDRESS is no parameter: any cluster reproduces the committed dvc.lock."""
    local_cluster = (project / "dvc.lock").read_text()
    locks = {}
    for workers in (1, 2):
        folder = tmp_path / f"{workers}-workers"
        folder.mkdir()
        with dask_cluster(project, workers, folder) as address:
            run(". .venv/bin/activate && dvc repro --force", project, env={SCHEDULER: address})
            done = json.loads(run(f".venv/bin/python -c '{TASKS_DONE}' {address}", project).stdout)
        # Every worker of the external cluster did some of the work (none if it was ignored).
        assert len(done) == workers and all(done.values()), done
        locks[workers] = (project / "dvc.lock").read_text()
    for name, lock in (("one worker", locks[1]), ("two workers", locks[2])):
        diff = difflib.unified_diff(local_cluster.splitlines(), lock.splitlines(), lineterm="")
        assert lock == local_cluster, f"dvc.lock with {name} differs:\n" + "\n".join(diff)


def stage_commands(project: Path) -> dict[str, list[str]]:
    """Each stage's arguments after `python3 src/<package>`, dvc.yaml's variables resolved."""
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text())
    values = {}
    for block in pipeline["vars"]:
        for key, value in block.items():
            if isinstance(value, dict):
                values.update({f"{key}.{name}": str(item) for name, item in value.items()})
            else:
                values[key] = str(value)
    commands = {}
    for name, stage in pipeline["stages"].items():
        command = re.sub(r"\$\{([\w.]+)\}", lambda match: values[match[1]], stage["cmd"])
        words = shlex.split(command)
        assert words[:2] == ["python3", values["pkg"]], command
        commands[name] = words[2:]
    return commands


def test_the_local_engine_gets_the_same_split_schema_and_metrics(
    project: Path, tmp_path: Path
) -> None:
    """The stages up to evaluate again, in a folder of their own, on tables.py: the rows
    held out, the schema inferred and the metrics equal those of the Dask run."""
    local = tmp_path / "local"
    (local / "data").mkdir(parents=True)
    (local / "params.yaml").write_text((project / "params.yaml").read_text())
    run(f"cp -r {project / 'data/external'} {local / 'data'}", tmp_path)
    script = tmp_path / "local_engine.py"
    script.write_text(LOCAL_ENGINE.format(package=PACKAGE))
    python = project / ".venv/bin/python"
    paths = pipeline_paths(project)
    for arguments in stage_commands(project).values():
        run(shlex.join([str(python), str(script), *arguments]), local)
        if paths["metrics"] in arguments:
            break  # what follows (the drift profile) is not compared here

    assert (local / paths["train"]).is_file(), "the local engine writes one file, not parts"
    held_out = pd.read_parquet(local / paths["test"])
    assert 0 < len(held_out) < len(pd.read_parquet(local / paths["train"]))
    for name in ("train", "test"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(local / paths[name]), pd.read_parquet(project / paths[name])
        )
    assert (local / paths["schema"]).read_text() == (project / paths["schema"]).read_text()
    local_metrics = json.loads((local / paths["metrics"]).read_text())
    assert local_metrics == json.loads((project / paths["metrics"]).read_text())


def test_predict_scores_a_partitioned_dataset_in_s3_row_for_row(
    project: Path, tmp_path: Path
) -> None:
    """DATA and OUT in moto's S3 server: every row read from four parts is written, scored."""
    moto = tool(BIN / "moto_server", "moto[server], in the template's dev group")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    env = {key.upper(): value for key, value in keys.items()}
    env |= {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
    paths = pipeline_paths(project)
    target = yaml.safe_load((project / "params.yaml").read_text())["data"]["target"]
    features = pd.read_parquet(project / paths["validated"]).drop(columns=[target])
    batch = pd.concat([features] * 3, ignore_index=True)
    bounds = [0, 100, 700, 1200, len(batch)]  # parts of unequal sizes
    with server([str(moto), "-H", "127.0.0.1", "-p", str(port)], port, tmp_path / "moto.log"):
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
        s3.create_bucket(Bucket="scale-data")
        for number, (start, stop) in enumerate(pairwise(bounds)):
            body = batch.iloc[start:stop].to_parquet(index=False)
            s3.put_object(Bucket="scale-data", Key=f"batch/part-{number}.parquet", Body=body)

        deployed = run("make deploy", project, env=env).stdout
        version = re.search(r"deployed version (\S+)", deployed)[1]
        run("make predict DATA=s3://scale-data/batch OUT=s3://scale-data/scored", project, env=env)
        listed = s3.list_objects_v2(Bucket="scale-data", Prefix="scored/")
        keys_written = sorted(entry["Key"] for entry in listed.get("Contents", []))
        assert keys_written and all(
            re.fullmatch(r"scored/part-\d{5}\.parquet", key) for key in keys_written
        ), keys_written
        bodies = [
            s3.get_object(Bucket="scale-data", Key=key)["Body"].read() for key in keys_written
        ]
    scored = pd.concat(pq.read_table(io.BytesIO(body)).to_pandas() for body in bodies)
    assert len(scored) == len(batch)
    assert scored["prediction"].notna().all()
    assert set(scored["model_version"]) == {version}
    probabilities = [name for name in scored.columns if name.startswith("probability_")]
    assert len(probabilities) == 2, scored.columns
    pd.testing.assert_frame_equal(
        scored[list(features.columns)].reset_index(drop=True), batch, check_dtype=False
    )


def test_validation_names_the_column_rule_and_partition_of_a_bad_part(
    project: Path, tmp_path: Path
) -> None:
    """data.source a folder of four parts: its schema is inferred, then a part breaks it."""
    clone = tmp_path / SLUG
    run(f"git clone -q {project} {clone}", tmp_path)
    run("make install", clone)
    paths = pipeline_paths(clone)
    rows = pd.read_parquet(project / paths["validated"])
    folder = clone / "data/external/batches"
    folder.mkdir()
    parts = [rows.iloc[start : start + 150] for start in range(0, 600, 150)]
    for number, part in enumerate(parts):
        part.to_parquet(folder / f"part-{number}.parquet", index=False)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["data"]["source"] = "data/external/batches"
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(". .venv/bin/activate && dvc repro validate", clone)
    schema = yaml.safe_load((clone / paths["schema"]).read_text())
    assert schema["source"] == "data/external/batches"

    # A value far above any seen (the schema allows one observed range beyond the maximum).
    column = "mean radius"
    broken = parts[2].copy()
    broken.iloc[7, broken.columns.get_loc(column)] = 1e6
    broken.to_parquet(folder / "part-2.parquet", index=False)
    failed = run(". .venv/bin/activate && dvc repro validate", clone, check=False)
    assert failed.returncode != 0
    message = failed.stderr
    assert re.search(
        rf"column '{column}' breaks rule less_than_or_equal_to\S* in 1 row\(s\) of partition 2\b",
        message,
    ), message
    assert "partition 0" not in message and "partition 1" not in message, message
    # The stage stops with that message, not a Python traceback.
    assert "Traceback (most recent call last)" not in failed.stdout + message, message
    assert not (clone / paths["validated"]).exists(), "stale output left behind"


def stage_into(project: Path, stage: str, outputs: dict[str, Path]) -> list[str]:
    """The stage's command line with the options in outputs (--model, ...) pointed there."""
    arguments = stage_commands(project)[stage]
    for option, path in outputs.items():
        arguments[arguments.index(option) + 1] = str(path)
    return arguments


def test_a_scheduler_address_that_is_no_scheduler_stops_a_stage_in_one_line(
    project: Path, tmp_path: Path
) -> None:
    """A port that takes connections but never answers as Dask does hung a stage for minutes
    despite the 30 s timeout (distributed's handshake has none), and `not-a-url` gave a
    traceback: both now stop within the connect timeout, in one line."""
    written = {"--train": tmp_path / "train.parquet", "--test": tmp_path / "test.parquet"}
    arguments = stage_into(project, "split", written)
    command = shlex.join([".venv/bin/python", "-m", PACKAGE, *arguments])
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # connections complete in the backlog; nothing ever answers
        silent = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        for address, said in ((silent, "no Dask handshake within 3 s"), ("not-a-url", "port")):
            env = {SCHEDULER: address, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}
            started = time.monotonic()
            result = run(command, project, check=False, env=env, timeout=120)
            assert time.monotonic() - started < 60
            assert result.returncode == 1 and said in result.stderr, result.stderr
            assert "Traceback" not in result.stderr, result.stderr
    assert not any(path.exists() for path in written.values()), "a stage that never ran wrote"


def test_a_worker_killed_as_train_starts_fails_it_in_one_line_or_is_replaced(
    project: Path, tmp_path: Path
) -> None:
    """kill -9 of a LocalCluster worker as it starts: the nanny starts another and the stage
    trains, or the stage stops with one line saying a worker died; never a traceback, never
    a model half written."""
    model = tmp_path / "model.joblib"
    arguments = stage_into(project, "train", {"--model": model})
    env = {k: v for k, v in os.environ.items() if k not in {*HIDDEN, SCHEDULER}}
    log = tmp_path / "train.log"
    with log.open("w") as out:
        stage = subprocess.Popen(
            [".venv/bin/python", "-m", PACKAGE, *arguments],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while True:
            found = subprocess.run(
                ["pgrep", "-s", str(stage.pid), "-f", "spawn_main"], capture_output=True, text=True
            ).stdout.split()
            if found or stage.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert found, f"no worker process appeared:\n{log.read_text()}"
        os.kill(int(found[0]), signal.SIGKILL)
        try:
            stage.wait(timeout=300)
        finally:
            if stage.poll() is None:
                os.killpg(stage.pid, signal.SIGKILL)
    output = log.read_text()
    assert "Traceback (most recent call last)" not in output, output
    if stage.returncode == 0:
        assert model.is_file(), output
    else:
        errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
        assert len(errors) == 1 and "worker" in errors[0] and "run the stage again" in errors[0]
        assert not model.exists(), "a model was written by a stage that failed"
