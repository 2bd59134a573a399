"""The serving acts of `make demo`: deploy, serve, predict live, swap in a second model;
then drift: a shifted batch is flagged, the model is retrained on data that includes it,
the gate passes and the new version is swapped in while serving.

Run by `make demo` on the project it baked (build/demo); stops the server it starts.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import yaml

SHIFTED = ["mean radius", "mean texture", "worst area"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def predict(port: int, row: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        json.dumps({"records": [row]}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def readable(answer):
    """A server's answer as printed: floats to 12 significant digits, which drops binary
    noise (21.246999999999993 shows as 21.247)."""
    if isinstance(answer, float):
        return float(f"{answer:.12g}")
    if isinstance(answer, list):
        return [readable(value) for value in answer]
    if isinstance(answer, dict):
        return {key: readable(value) for key, value in answer.items()}
    return answer


def stop(server: subprocess.Popen) -> int:
    """SIGTERM to the server itself, the first python under make (make -> sh -> python): it
    answers what is in flight and exits 0, so make ends without an error. (Signalling make's
    whole group made make report `wait: No child processes`.)"""
    pid = server.pid
    while True:
        children = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True
        ).stdout.split()
        if not children:
            break
        pid = int(children[0])
        command = subprocess.run(
            ["ps", "-o", "comm=", "-p", str(pid)], capture_output=True, text=True
        ).stdout
        if command.strip().startswith("python"):
            break
    os.kill(pid, signal.SIGTERM)
    return server.wait(timeout=60)


def make(project: Path, *targets: str) -> subprocess.CompletedProcess:
    print(f"\n$ make {' '.join(targets)}", flush=True)
    return subprocess.run(["make", "--no-print-directory", *targets], cwd=project, text=True)


def main(project: Path) -> None:
    if make(project, "deploy").returncode != 0:
        sys.exit("the first deploy failed")
    manifest = json.loads(
        next((project / "registry").glob("*/versions/*/manifest.json")).read_text()
    )
    row = manifest["smoke"]["rows"][0]
    port = free_port()
    env = {**os.environ, "SERVE_POLL_INTERVAL": "0.5"}
    print(f"\n$ make serve PORT={port}   (in the background)", flush=True)
    server = subprocess.Popen(
        ["make", "--no-print-directory", "serve", f"PORT={port}"],
        cwd=project,
        env=env,
    )
    try:
        for _ in range(150):
            try:
                first = predict(port, row)
                break
            except OSError:
                time.sleep(0.2)
        else:
            sys.exit("the server did not answer")
        print(f"\nlive prediction: {readable(first)}", flush=True)
        show_card(project, port, first["model_version"])

        params_path = project / "params.yaml"
        params = yaml.safe_load(params_path.read_text())
        params["train"]["random_forest"]["n_estimators"] = 300
        params_path.write_text(yaml.safe_dump(params, sort_keys=False))
        print("\nA second model: train.random_forest.n_estimators 200 -> 300", flush=True)
        make(project, "repro")
        if make(project, "deploy").returncode != 0:
            print("the gate refused the second model: the first keeps serving", flush=True)
        for _ in range(50):
            answer = predict(port, row)
            if answer["model_version"] != first["model_version"]:
                break
            time.sleep(0.2)
        versions = f"{first['model_version']} -> {answer['model_version']}"
        print(f"\nswapped while serving: {versions}: {readable(answer)}")
        make(project, "models")
        drift_act(project, port, row, answer["model_version"])
    finally:
        stopped = stop(server)  # checked below, so an error on the way here is not hidden
        print("\nserver stopped")
    if stopped != 0:
        sys.exit(f"make serve exited {stopped}")
    release_act(project)


def show_card(project: Path, port: int, version: str) -> None:
    """Where the served version's model card is, and its first lines."""
    card = next((project / "registry").glob(f"*/versions/{version}/card.md"))
    url = f"http://127.0.0.1:{port}/model/card"
    with urllib.request.urlopen(url, timeout=10) as response:
        lines = response.read().decode().splitlines()
    print(f"\nits model card: {card.relative_to(project)} (make deploy wrote it), served at")
    print(f"{url} (?format=html for a browser); intended use and limitations come from")
    print("docs/model.md. It begins:")
    print("\n".join(f"    {line}" for line in lines[:10]), flush=True)


def shift(rows: pd.DataFrame, spread: pd.DataFrame) -> pd.DataFrame:
    """The rows with three features moved up by one standard deviation."""
    return rows.assign(**{name: rows[name] + spread[name].std() for name in SHIFTED})


def drift_act(project: Path, port: int, row: dict, serving: str) -> None:
    print("\n--- Drift: the data changes, the model follows ---", flush=True)
    scratch = project / "scratch"  # git-ignored
    scratch.mkdir(exist_ok=True)
    test = pd.read_parquet(project / "data/processed/test.parquet")
    batch = shift(test.sample(100, random_state=0), test)
    batch.to_csv(scratch / "new-batch.csv", index=False)
    print(f"A new batch of 100 rows in which {', '.join(SHIFTED)} rose by 1 std:")
    if make(project, "monitor", "DATA=scratch/new-batch.csv").returncode == 0:
        sys.exit("the monitor missed the shift")
    print("(make monitor fails: drift, report in reports/drift.md and drift.html)")

    raw = pd.read_parquet(project / "data/raw/dataset.parquet")
    current = pd.concat([raw, shift(raw.sample(200, random_state=1), raw)])
    current.to_csv(project / "data/external/current.csv", index=False)
    print("\nRetrain on data that includes such rows: data/external/current.csv", flush=True)
    subprocess.run([".venv/bin/dvc", "add", "data/external/current.csv"], cwd=project, check=True)
    params_path = project / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["data"]["source"] = "data/external/current.csv"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    if make(project, "retrain").returncode != 0:
        sys.exit("retraining or its deploy failed")
    for _ in range(50):
        answer = predict(port, row)
        if answer["model_version"] != serving:
            break
        time.sleep(0.2)
    else:
        sys.exit("the retrained model was not swapped in")
    print(f"\nswapped while serving: {serving} -> {answer['model_version']}")
    make(project, "models")


def release_act(project: Path) -> None:
    """A candidate in staging, shadowed on live traffic, judged on the outcomes that come
    back, and promoted on that evidence."""
    print("\n--- Release safely: shadow a candidate, judge it on outcomes, promote ---")
    params_path = project / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["train"]["estimator"] = "linear"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    print("A candidate: train.estimator random_forest -> linear, deployed to staging", flush=True)
    make(project, "repro")
    if make(project, "deploy", "DEPLOY_ENV=staging").returncode != 0:
        sys.exit("the gate refused the candidate")
    port = free_port()
    # Relative to the project, where make serve runs.
    env = {**os.environ, "SERVE_SHADOW": "staging", "SERVE_PREDICTION_LOG": "scratch/logs"}
    shown = "SERVE_SHADOW=staging SERVE_PREDICTION_LOG=scratch/logs"
    print(f"\n$ {shown} make serve PORT={port}   (in the background)", flush=True)
    command = ["make", "--no-print-directory", "serve", f"PORT={port}"]
    server = subprocess.Popen(command, cwd=project, env=env)
    try:
        test = pd.read_parquet(project / "data/processed/test.parquet")
        truth = test.pop("target")
        ids: list[str] = []
        for start in range(0, len(test), 20):
            rows = json.loads(test.iloc[start : start + 20].to_json(orient="records"))
            ids += post(port, "/predict", {"records": rows}, wait=start == 0)["prediction_ids"]
        print(f"{len(ids)} rows answered by production, each also seen by staging's candidate")
    finally:
        stopped = stop(server)
    if stopped != 0:
        sys.exit(f"make serve exited {stopped}")
    outcomes = project / "scratch" / "outcomes.csv"
    pd.DataFrame({"prediction_id": ids, "target": truth.to_numpy()}).to_csv(outcomes, index=False)
    print("\nThe true labels come back for those predictions:", flush=True)
    make(project, "feedback", "DATA=scratch/outcomes.csv", "LOG=scratch/logs")
    make(project, "performance", "LOG=scratch/logs")
    params["deploy"]["evidence_rows"] = 100
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    print("\nPromote on evidence: deploy.evidence_rows 0 -> 100", flush=True)
    promoted = make(project, "promote", "FROM=staging", "TO=production", "LOG=scratch/logs")
    if promoted.returncode != 0:
        print("(refused on the live evidence: production keeps its version)")
    make(project, "models")


def post(port: int, path: str, body: dict, wait: bool = False) -> dict:
    """POST JSON; with `wait`, first until the server answers."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    for _ in range(150 if wait else 1):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except OSError:
            if not wait:
                raise
            time.sleep(0.2)
    sys.exit("the server did not answer")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
