"""This project's server against MLServer, same models, same load generator, one run.

    .venv/bin/python benchmarks/serve.py [--duration 5] [--mlserver-env /tmp/mlserver-env]

Needs wrk (Debian: apt-get install wrk). MLServer runs from its own environment, made here
when missing: mlserver, mlserver-sklearn, and uvloop<0.22 (0.22 crashes MLServer 1.7.1's
workers), with this project's scikit-learn version so both load the same fitted pipelines.

Two models (a scaled logistic regression and a 200-tree random forest) x concurrency 1, 8,
32 x 1-row and 100-row requests: requests/s, p50 and p99 for this server and for MLServer
at its best of parallel_workers 0 and 1 with adaptive batching off and on; a Starlette
route returning a constant, as the framework's floor; and p99 while versions are swapped.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from cookiecutter.main import cookiecutter

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent
CONCURRENCY = (1, 8, 32)
ROWS = (1, 100)
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


def mlserver_env(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        print(f"creating MLServer's environment in {path}")
        subprocess.run(["uv", "venv", "-q", "-p", "3.11", str(path)], check=True)
        packages = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22"]
        subprocess.run(["uv", "pip", "install", "-q", "-p", str(python), *packages], check=True)
    return path / "bin"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument(
        "--mlserver-env", type=Path, default=Path(tempfile.gettempdir()) / "mlserver-env"
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(scratch)))
    package = project.name.replace("-", "_")
    venv = project / ".venv"
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL")
    }
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", VIRTUAL_ENV=str(venv))
    subprocess.run(["make", "install"], cwd=project, env=env, check=True, capture_output=True)
    data = scratch / "models"
    subprocess.run(
        [venv / "bin/python", HERE / "serve_models.py", package, data],
        cwd=project,
        env=env,
        check=True,
    )
    sklearn_version = subprocess.run(
        [venv / "bin/python", "-c", "import sklearn; print(sklearn.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    mls_bin = mlserver_env(args.mlserver_env)
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "-q",
            "-p",
            str(mls_bin / "python"),
            f"scikit-learn=={sklearn_version}",
        ],
        check=True,
    )
    results: dict[tuple, dict] = {}

    def measure(label: str, url: str, body_prefix: str, model: str) -> None:
        for rows in ROWS:
            body = data / f"{body_prefix}-{rows}.json"
            wrk(url, body, 8, 1, scratch)  # warm-up
            for connections in CONCURRENCY:
                result = wrk(url, body, connections, args.duration, scratch)
                results[(label, model, rows, connections)] = result
                print(row(label, model, rows, connections, result), flush=True)

    print("\n## this server")
    for model in ("logreg", "forest"):
        port = free_port()
        server_env = {
            **env,
            "MODEL_REGISTRY": str(data / "registry"),
            "SERVE_MODEL_NAME": model,
            "SERVE_PORT": str(port),
        }
        server = start(
            [venv / "bin/python", "-m", package, "serve"],
            server_env,
            project,
            scratch / f"ours-{model}.log",
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/health/ready", server)
            measure("this server", f"http://127.0.0.1:{port}/predict", "predict", model)
            if model == "forest":
                swap_p99(
                    port,
                    data,
                    model,
                    server_env,
                    venv,
                    package,
                    project,
                    scratch,
                    args.duration,
                    results,
                )
        finally:
            stop(server)

    print("\n## MLServer")
    for workers in (0, 1):
        for batching in (False, True):
            label = f"mlserver w={workers} batch={'on' if batching else 'off'}"
            root = scratch / f"mls-{workers}-{batching}"
            port = free_port()
            for model in ("logreg", "forest"):
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
            settings = {"parallel_workers": workers, **ports}
            (root / "settings.json").write_text(json.dumps(settings))
            server = start(
                [mls_bin / "mlserver", "start", str(root)],
                {**env, "PATH": f"{mls_bin}{os.pathsep}{os.environ['PATH']}"},
                root,
                scratch / f"{root.name}.log",
            )
            try:
                wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", server)
                for model in ("logreg", "forest"):
                    wait_ready(f"http://127.0.0.1:{port}/v2/models/{model}/ready", server)
                    measure(label, f"http://127.0.0.1:{port}/v2/models/{model}/infer", "v2", model)
            finally:
                stop(server)

    print("\n## Starlette constant route (the framework's floor)")
    port = free_port()
    floor = start(
        [
            venv / "bin/python",
            "-m",
            "uvicorn",
            "--app-dir",
            str(HERE),
            "constant_app:app",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env,
        project,
        scratch / "floor.log",
    )
    try:
        wait_ready_post(port)
        constant = wrk(
            f"http://127.0.0.1:{port}/predict", data / "predict-1.json", 32, args.duration, scratch
        )
    finally:
        stop(floor)
    print(f"  constant route c=32 {constant['rps']:8.1f} req/s  p99 {constant['p99']:.2f} ms")
    report(results, constant)


def wait_ready_post(port: int) -> None:
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)


def swap_p99(port, data, model, env, venv, package, project, scratch, duration, results) -> None:
    """p99 at 32 connections while two new versions are published and swapped in."""
    body = data / "predict-1.json"
    publish = (
        f"from {package}.registry import Registry as R; "
        f"r = R({str(data / 'registry')!r}, {model!r}); "
        "v = r.current(); m = r.manifest(v); f = {n: r.read(v, n) for n in m['sha256']}; "
        "m = {**m, 'source_sha256': 'swap'}; r.promote(r.publish(f, m, 'swap'))"
    )

    def swaps() -> None:
        for _ in range(2):
            time.sleep(duration / 3)
            subprocess.run([venv / "bin/python", "-c", publish], cwd=project, env=env, check=True)

    swapper = threading.Thread(target=swaps)
    swapper.start()
    result = wrk(f"http://127.0.0.1:{port}/predict", body, 32, duration, scratch)
    swapper.join()
    results[("swap", model, 1, 32)] = result
    print(row("during 2 hot swaps", model, 1, 32, result), flush=True)


def report(results: dict, constant: dict) -> None:
    print("\n## ratios: this server / MLServer's best (throughput up is better, p99 down)")
    for model in ("logreg", "forest"):
        for rows in ROWS:
            for connections in CONCURRENCY:
                ours = results[("this server", model, rows, connections)]
                theirs = [
                    r
                    for (label, m, n, c), r in results.items()
                    if label.startswith("mlserver") and (m, n, c) == (model, rows, connections)
                ]
                best = max(theirs, key=lambda r: r["rps"])
                speed, tail = ours["rps"] / best["rps"], ours["p99"] / best["p99"]
                print(
                    f"  {model:<7} rows={rows:<4} c={connections:<3} throughput x{speed:5.2f} "
                    f"(target >= 1.5)   p99 x{tail:5.2f} (target <= 1)"
                )
    single = results[("this server", "logreg", 1, 32)]
    share = single["rps"] / constant["rps"]
    print(f"  logreg 1-row c=32 vs the Starlette constant route: {share:.0%} (target >= 40%)")
    steady = results[("this server", "forest", 1, 32)]
    swap = results[("swap", "forest", 1, 32)]
    ratio = swap["p99"] / steady["p99"]
    print(f"  forest 1-row c=32 p99 during hot swaps vs steady: x{ratio:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
