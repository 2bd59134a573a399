"""This project's server against MLServer, same models, same load generator, one run.

    .venv/bin/python benchmarks/serve.py [--duration 5] [--mlserver-env /tmp/mlserver-env]
        [--project PATH] [--smoke]

Needs wrk (Debian: apt-get install wrk) and uv (on PATH, or in .tools/ as `make install`
puts it). MLServer runs from its own environment, made here when missing and brought up to
date on every run: mlserver, mlserver-sklearn, uvloop<0.22 (0.22 crashes MLServer 1.7.1's
workers) and httptools (without it uvicorn falls back to the slower h11 parser), with this
project's scikit-learn version so both load the same fitted pipelines.

Two models (a scaled logistic regression and a 200-tree random forest, trained and
published by the project's own pipeline and deploy: serve_models.py) x concurrency 1, 8,
32 x 1-row and 100-row requests: requests/s, p50 and p99 for this server (answering through
the version's ONNX graph, SERVE_RUNTIME=auto), the same server through scikit-learn
(SERVE_RUNTIME=skops, the runtime MLServer's scikit-learn runtime also uses), and MLServer
at its best of parallel_workers 0 and 1 with adaptive batching off and on; this server
with SERVE_WORKERS=2 against MLServer with parallel_workers 2 (its only worker setting:
inference processes behind one HTTP process), batching off and on; a Starlette route
returning a constant, as the framework's floor; p99 while versions are swapped; what
the Prometheus metrics cost: this server against itself with SERVE_METRICS=false; and what
releasing safely costs, at concurrency 8: this server with a shadow (SERVE_SHADOW, every
request) and with a 10% canary (SERVE_CANARY), each against a copy of the same model
published as staging's version, beside itself with neither.
MLServer runs with debug off, as in production: debug on logs every request.

Every server runs from the start and the measurements go cell by cell (model, rows,
concurrency), each server right after the other, so that a load which comes and goes on a
shared machine weighs on both sides of a ratio alike.

--project reuses a baked project whose .venv is installed (`make install`) instead of a new
bake. --smoke is the template's check that this script still runs (tests/test_benchmarks.py),
its numbers mean nothing: 1-second runs of the forest alone, at concurrency 8 with 1-row
requests, against MLServer with batching on and one parallel worker (two for the
SERVE_WORKERS=2 row), and the shadow and canary rows.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import baking  # noqa: E402

MODELS = ("logreg", "forest")
SWAPPED = "forest"  # serve_models.py publishes it three times: two versions to swap back to
CONCURRENCY = (1, 8, 32)
ROWS = (1, 100)
MLSERVER_CONFIGS = ((0, False), (0, True), (1, False), (1, True))  # (parallel_workers, batching)
RELEASE_CONNECTIONS = 8  # where the shadow and canary rows are measured
WORKERS = 2  # the several-workers row: SERVE_WORKERS against MLServer's parallel_workers
MLSERVER_WORKER_CONFIGS = ((WORKERS, False), (WORKERS, True))
MLSERVER_PACKAGES = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22", "httptools")
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
"""


def row(label: str, model: str, rows: int, connections: int, result: dict) -> str:
    return (
        f"  {label:<24} {model:<7} rows={rows:<4} c={connections:<3} "
        f"{result['rps']:8.1f} req/s  p50 {result['p50']:7.2f} ms  p99 {result['p99']:7.2f} ms"
        f"  non-2xx {result['errors']}"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited while starting: {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"server not ready: {url}")


def wait_started(log: Path, workers: int, process: subprocess.Popen, timeout: float = 90) -> None:
    """Until each of the server's uvicorn workers has loaded the model (its app started)."""
    deadline = time.monotonic() + timeout
    while log.read_text().count("Application startup complete.") < workers:
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"not all {workers} workers started: see {log}")
        time.sleep(0.3)


def start(command: list[str], env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def wrk(url: str, body: Path, connections: int, seconds: int, scratch: Path) -> dict:
    """requests/s, p50 and p99 (ms) and non-2xx count from one wrk run."""
    script = scratch / f"{body.stem}.lua"
    script.write_text(LUA.format(body=body))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def mlserver_env(path: Path, sklearn_version: str) -> Path:
    """MLServer's environment at path, made if missing; returns its bin folder."""
    uv, python = baking.find_uv(), path / "bin" / "python"
    if not python.exists():
        print(f"creating MLServer's environment in {path}", flush=True)
        subprocess.run([uv, "venv", "-q", "-p", "3.11", str(path)], check=True)
    # On every run (a no-op when satisfied): an older environment gets what joined the list.
    packages = [*MLSERVER_PACKAGES, f"scikit-learn=={sklearn_version}"]
    subprocess.run([uv, "pip", "install", "-q", "-p", str(python), *packages], check=True)
    # uvicorn picks uvloop and httptools when it can import them: make sure it can.
    subprocess.run([python, "-c", "import httptools, uvloop"], check=True)
    return path / "bin"


def cli(venv: Path, package: str, command: str) -> list:
    """A process running one of the project's commands through its CLI's run()."""
    code = f"import importlib; importlib.import_module('{package}.cli').run('{command}', [])"
    return [venv / "bin" / "python", "-c", code]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument(
        "--mlserver-env", type=Path, default=Path(tempfile.gettempdir()) / "mlserver-env"
    )
    parser.add_argument("--project", type=Path, help="a baked, installed project to reuse")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does it still work?")
    args = parser.parse_args()
    models, concurrency, rows_list = MODELS, CONCURRENCY, ROWS
    configs, worker_configs = MLSERVER_CONFIGS, MLSERVER_WORKER_CONFIGS
    if args.smoke:
        args.duration, models, concurrency, rows_list = 1, ("forest",), (8,), (1,)
        configs, worker_configs = ((1, True),), ((WORKERS, True),)
    scratch = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    project, package = baking.project(scratch, args.project)
    venv = project / ".venv"
    env = baking.environment(venv)
    data = scratch / "models"
    subprocess.run(
        [venv / "bin/python", HERE / "serve_models.py", package, data, *models],
        cwd=project, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    sklearn_version = subprocess.run(
        [venv / "bin/python", "-c", "import sklearn; print(sklearn.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    mls_bin = mlserver_env(args.mlserver_env, sklearn_version)
    several = takes_workers(venv, package)
    groups = [(OURS, configs)] + ([(OURS_WORKERS, worker_configs)] if several else [])
    top = concurrency[-1]
    results: dict[tuple, dict] = {}
    # (label, model) -> (url, request body prefix) of every server, all started first
    targets: dict[tuple[str, str], tuple[str, str]] = {}
    with contextlib.ExitStack() as running:

        def launch(command: list, env: dict, cwd: Path, log: Path) -> subprocess.Popen:
            process = start(command, env, cwd, log)
            running.callback(stop, process)
            return process

        def ours(
            label: str,
            workers: int,
            registry: Path,
            metrics: bool = True,
            runtime: str = "auto",
            **settings: str,
        ) -> None:
            for model in models:
                port = free_port()
                server_env = {
                    **env,
                    "MODEL_REGISTRY": str(registry),
                    "SERVE_MODEL_NAME": model,
                    "SERVE_PORT": str(port),
                    "SERVE_WORKERS": str(workers),
                    "SERVE_METRICS": str(metrics).lower(),
                    "SERVE_RUNTIME": runtime,
                    **settings,
                }
                name = f"{model}-{workers}-{'metrics' if metrics else 'bare'}-{runtime}"
                name += "".join(f"-{key}" for key in settings)
                log = scratch / f"{name}.log"
                server = launch(cli(venv, package, "serve"), server_env, project, log)
                wait_ready(f"http://127.0.0.1:{port}/health/ready", server)
                wait_started(log, workers, server)  # one ready answer is one worker's
                answering = served_runtime(port)
                print(f"  {label:<24} {model:<7} answers through {answering}", flush=True)
                if runtime == "auto" and answering != "onnx":
                    sys.exit(f"{model} has no ONNX graph: the benchmark compares the graph's")
                targets[(label, model)] = (f"http://127.0.0.1:{port}/predict", "predict")
                if (label, model) == (OURS, SWAPPED):  # before the others start
                    swap_p99(
                        port, data, server_env, venv, package, scratch, args.duration, top, results
                    )

        def mlserver(workers: int, batching: bool) -> None:
            root = scratch / f"mls-{workers}-{batching}"
            port = free_port()
            for model in models:
                folder = root / model
                folder.mkdir(parents=True)
                (folder / "model.joblib").symlink_to(data / "mlserver" / model / "model.joblib")
                settings = {
                    "name": model,
                    "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": "./model.joblib"},
                }
                if batching:
                    settings.update(max_batch_size=64, max_batch_time=0.002)
                (folder / "model-settings.json").write_text(json.dumps(settings))
            ports = {"http_port": port, "grpc_port": free_port(), "metrics_port": free_port()}
            # debug off, as in production: on, MLServer logs every request (this server not)
            settings = {"parallel_workers": workers, "debug": False, **ports}
            (root / "settings.json").write_text(json.dumps(settings))
            server = launch(
                [mls_bin / "mlserver", "start", str(root)],
                {**env, "PATH": f"{mls_bin}{os.pathsep}{os.environ['PATH']}"},
                root,
                scratch / f"{root.name}.log",
            )
            wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", server)
            for model in models:
                base = f"http://127.0.0.1:{port}/v2/models/{model}"
                wait_ready(f"{base}/ready", server)
                targets[(mlserver_label(workers, batching), model)] = (f"{base}/infer", "v2")

        print("\n## this server: p99 during hot swaps", flush=True)
        # Its own copy of the registry for the other servers: the swaps change the original.
        shutil.copytree(data / "registry", data / "registry-others")
        ours(OURS, 1, data / "registry")
        print("\nstarting every other server", flush=True)
        for workers, batching in (*configs, *(worker_configs if several else ())):
            mlserver(workers, batching)
        ours(BARE, 1, data / "registry-others", metrics=False)
        ours(SKOPS, 1, data / "registry-others", runtime="skops")
        releasing = takes_release_settings(venv, package)
        if releasing:
            for model in models:
                stage_a_copy(venv, package, data / "registry-others", model, env)
            ours(SHADOW, 1, data / "registry-others", SERVE_SHADOW="staging")
            ours(CANARY, 1, data / "registry-others", SERVE_CANARY="staging:10")
        else:
            print("  no shadow and canary rows: this project's server has no such settings")
        if several:
            ours(OURS_WORKERS, WORKERS, data / "registry-others")
        else:
            print(f"  no SERVE_WORKERS={WORKERS} row: this project's server has no such setting")
        port = free_port()
        floor_command = [venv / "bin/python", "-m", "uvicorn", "--app-dir", str(HERE)]
        floor_command += ["constant_app:app", "--port", str(port), "--no-access-log"]
        launch(floor_command, env, project, scratch / "floor.log")
        wait_ready_post(port)
        floor = f"http://127.0.0.1:{port}/predict"

        # Cell by cell, each server right after the other: a load that comes and goes on a
        # shared machine then weighs on both sides of a ratio alike.
        labels = [label for ours_label, mls in groups for label in (ours_label, *mls_labels(mls))]
        # Right after this server: the metrics' cost and scikit-learn's, side by side.
        labels[1:1] = [BARE, SKOPS, SHADOW, CANARY]
        constant = None
        print("\n## requests/s, p50, p99: cell by cell, every server in turn", flush=True)
        for model in models:
            for rows in rows_list:
                for label in labels:  # warm-up
                    if (label, model) not in targets:
                        continue
                    url, prefix = targets[(label, model)]
                    wrk(url, data / f"{prefix}-{rows}.json", 8, 1, scratch)
                for connections in concurrency:
                    for label in labels:
                        if label in (SHADOW, CANARY) and connections != RELEASE_CONNECTIONS:
                            continue
                        if (label, model) not in targets:
                            continue
                        url, prefix = targets[(label, model)]
                        body = data / f"{prefix}-{rows}.json"
                        result = wrk(url, body, connections, args.duration, scratch)
                        results[(label, model, rows, connections)] = result
                        print(row(label, model, rows, connections, result), flush=True)
                    if (model, rows, connections) == (models[0], 1, top):
                        body = data / "predict-1.json"
                        constant = wrk(floor, body, top, args.duration, scratch)
                        print(row("Starlette constant route", model, 1, top, constant))
    cells = [(m, n, c) for m in models for n in rows_list for c in concurrency]
    print("\n## ratios: this server / MLServer's best (throughput up is better, p99 down)")
    ratios(results, cells, OURS, configs)
    print("\n## the same, this server through scikit-learn (SERVE_RUNTIME=skops): no target")
    ratios(results, cells, SKOPS, configs, judged=False)
    if several:
        print(f"\n## ratios, {WORKERS} workers each: this server / MLServer's best")
        ratios(results, cells, OURS_WORKERS, worker_configs)
    floor_and_swaps(results, constant, models[0], top)
    if releasing:
        print(f"\n## what releasing safely costs, c={RELEASE_CONNECTIONS}: / this server alone")
        for model in models:
            for rows in rows_list:
                alone = results.get((OURS, model, rows, RELEASE_CONNECTIONS))
                for label in (SHADOW, CANARY):
                    found = results.get((label, model, rows, RELEASE_CONNECTIONS))
                    if alone and found:
                        rps, p99 = found["rps"] / alone["rps"], found["p99"] / alone["p99"]
                        print(
                            f"  {label:<28} {model:<7} rows={rows:<4} throughput x{rps:.2f}"
                            f"  p99 x{p99:.2f}"
                        )
    print("\n## what the metrics cost: this server / itself with SERVE_METRICS=false")
    for model, rows, connections in cells:
        with_metrics = results[(OURS, model, rows, connections)]["rps"]
        cost = 1 - with_metrics / results[(BARE, model, rows, connections)]["rps"]
        print(
            f"  {model:<7} rows={rows:<4} c={connections:<3} throughput {cost:+6.1%} lower"
            f" with metrics (target <= 5%)  {'met' if cost <= 0.05 else 'MISSED'}"
        )


def mls_labels(configs: tuple) -> list[str]:
    return [mlserver_label(workers, batching) for workers, batching in configs]


def mlserver_label(workers: int, batching: bool) -> str:
    return f"mlserver w={workers} batch={'on' if batching else 'off'}"


OURS, OURS_WORKERS = "this server", f"this server w={WORKERS}"
SHADOW = "this server, shadow on"  # SERVE_SHADOW=staging: every request seen twice
CANARY = "this server, canary 10%"  # SERVE_CANARY=staging:10
BARE = "this server, no metrics"  # SERVE_METRICS=false: what the metrics cost
SKOPS = "this server, skops"  # SERVE_RUNTIME=skops: scikit-learn instead of the graph
# The cell where scikit-learn's fixed cost per call weighs most: the graph must be 5x there.
FIVEFOLD = ("forest", 1, 1)


def served_runtime(port: int) -> str:
    """The runtime GET /model says answers (a project from before graphs: skops)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/model", timeout=10) as response:
        return json.load(response).get("runtime", "skops")


def takes_workers(venv: Path, package: str) -> bool:
    """Whether the project's server has the SERVE_WORKERS setting."""
    settings = f"{package}.serve.settings"
    code = f"from {settings} import Settings; print('workers' in Settings.model_fields)"
    answer = subprocess.run(
        [venv / "bin/python", "-c", code], capture_output=True, text=True, check=True
    )
    return answer.stdout.strip() == "True"


def takes_release_settings(venv: Path, package: str) -> bool:
    """Whether the project's server has SERVE_SHADOW and SERVE_CANARY."""
    found = subprocess.run(
        [venv / "bin/python", "-m", package, "serve", "--help"], capture_output=True, text=True
    )
    return "SERVE_SHADOW" in found.stdout and "SERVE_CANARY" in found.stdout


STAGE_A_COPY = """
import sys
from {package}.deploy.registry import Registry
registry = Registry(sys.argv[1], sys.argv[2])
version = registry.current()
manifest = registry.manifest(version)
files = {{name: registry.read(version, name) for name in manifest["sha256"]}}
copy = registry.publish(files, manifest, "staging")
registry.promote(copy, "staging")
"""


def stage_a_copy(venv: Path, package: str, registry: Path, model: str, env: dict) -> None:
    """Publish the production version's files again as staging's version: another version
    of the same cost, for the shadow and canary rows."""
    script = STAGE_A_COPY.format(package=package)
    command = [venv / "bin/python", "-c", script, str(registry), model]
    subprocess.run(command, env=env, check=True)


def wait_ready_post(port: int) -> None:
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)


def swap_p99(port, data, env, venv, package, scratch, duration, connections, results) -> None:
    """p99 while `rollback` swaps in an older version, twice, against p99 just before."""
    body = data / "predict-1.json"
    # One process makes both swaps, its imports done before the load starts (`models` lists
    # the versions, importing what `rollback` needs); it starts on a line from stdin.
    code = (
        "import importlib, sys, time; "
        f"cli = importlib.import_module('{package}.cli'); cli.run('models', []); "
        "print('ready', flush=True); sys.stdin.readline(); "
        "[(time.sleep(float(sys.argv[1])), cli.run('rollback', [])) for _ in range(2)]"
    )
    swapper = subprocess.Popen(
        [venv / "bin/python", "-c", code, str(duration / 3)],
        cwd=data / "work" / SWAPPED, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    for line in swapper.stdout:
        if line.strip() == "ready":
            break
    url = f"http://127.0.0.1:{port}/predict"
    wrk(url, body, 8, 1, scratch)  # warm-up
    steady = wrk(url, body, connections, duration, scratch)
    print(row("steady", SWAPPED, 1, connections, steady), flush=True)
    results[("steady", SWAPPED, 1, connections)] = steady
    swapper.stdin.write("go\n")
    swapper.stdin.flush()
    result = wrk(url, body, connections, duration, scratch)
    output = swapper.communicate(timeout=120)[0]
    if swapper.returncode != 0:
        sys.exit(f"the swaps failed ({swapper.returncode}): {output}")
    results[("swap", SWAPPED, 1, connections)] = result
    print(row("during 2 hot swaps", SWAPPED, 1, connections, result), flush=True)


def ratios(
    results: dict, cells: list[tuple], ours: str, configs: tuple, judged: bool = True
) -> None:
    """Per cell, this server against the one of MLServer's configurations (parallel_workers,
    batching) that answered the most requests/s in that cell; `judged`: against the targets
    (1.5x, 5x in the FIVEFOLD cell, p99 no higher)."""
    labels = {mlserver_label(workers, batching) for workers, batching in configs}
    for model, rows, connections in cells:
        mine = results[(ours, model, rows, connections)]
        theirs = {label: results[(label, model, rows, connections)] for label in labels}
        label, best = max(theirs.items(), key=lambda item: item[1]["rps"])
        speed, tail = mine["rps"] / best["rps"], mine["p99"] / best["p99"]
        wanted = 5.0 if (model, rows, connections) == FIVEFOLD else 1.5
        verdict = ("met" if speed >= wanted and tail <= 1 else "MISSED") if judged else ""
        print(
            f"  {model:<7} rows={rows:<4} c={connections:<3} throughput x{speed:5.2f} "
            f"(target >= {wanted})   p99 x{tail:5.2f} (target <= 1)"
            f"   p99 {mine['p99']:.1f} vs {best['p99']:.1f} ms, {label.removeprefix('mlserver ')}"
            f"  {verdict}"
        )


def floor_and_swaps(results: dict, constant: dict, model: str, top: int) -> None:
    single = results[(OURS, model, 1, top)]
    share = single["rps"] / constant["rps"]
    print(f"  {model} 1-row c={top} vs the Starlette constant route: {share:.0%} (target >= 40%)")
    steady = results[("steady", SWAPPED, 1, top)]  # measured just before the swaps
    swap = results[("swap", SWAPPED, 1, top)]
    ratio = swap["p99"] / steady["p99"]
    print(f"  {SWAPPED} 1-row c={top} p99 during hot swaps vs steady: x{ratio:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
