"""What prediction logging costs the server: the same load with SERVE_PREDICTION_LOG off and on.

    .venv/bin/python benchmarks/prediction_log.py [--duration 5] [--rounds 3] [--project PATH]
    .venv/bin/python benchmarks/prediction_log.py --smoke [--project PATH]

Needs wrk (Debian: apt-get install wrk). Bakes the default project, publishes the
benchmark's logistic regression (benchmarks/serve_models.py), then alternates server runs
without and with logging, each under wrk: 1-row requests at 32 connections and 100-row
requests at 8. Prints the median requests/s of each and the ratio (target: logging costs
at most 10% of the throughput), and checks that every answered request left one line.

--project reuses a baked project whose .venv is installed (`make install`) instead of a new
bake. --smoke is the template's check that this script still runs (tests/test_benchmarks.py),
its numbers mean nothing: one round of 1-second runs.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import baking  # noqa: E402
from serve import cli, free_port, start, stop, wait_ready, wrk  # noqa: E402

LOADS = ((1, 32), (100, 8))  # (rows per request, connections)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="off/on pairs per load")
    parser.add_argument("--project", type=Path, help="a baked, installed project to reuse")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does it still work?")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.rounds = 1, 1
    scratch = Path(tempfile.mkdtemp(prefix="log-bench-"))
    project, package = baking.project(scratch, args.project)
    venv = project / ".venv"
    env = baking.environment(venv)
    data = scratch / "models"
    subprocess.run(
        [venv / "bin/python", HERE / "serve_models.py", package, data, "logreg"],
        cwd=project, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip

    rates: dict[tuple, list[float]] = {}
    for round_number in range(args.rounds):
        for logging in (False, True):
            port = free_port()
            logs = scratch / f"logs-{round_number}"
            server_env = {
                **env,
                "MODEL_REGISTRY": str(data / "registry"),
                "SERVE_MODEL_NAME": "logreg",
                "SERVE_PORT": str(port),
                "SERVE_PREDICTION_LOG": str(logs) if logging else "",
                # Room for every line, so none is rotated away and the count can be checked.
                "SERVE_PREDICTION_LOG_MAX_MB": "4000",
            }
            server = start(
                cli(venv, package, "serve"),
                server_env, project, scratch / f"server-{round_number}-{logging}.log",
            )  # fmt: skip
            answered = 0
            try:
                wait_ready(f"http://127.0.0.1:{port}/health/ready", server)
                url = f"http://127.0.0.1:{port}/predict"
                for rows, connections in LOADS:
                    body = data / f"predict-{rows}.json"
                    answered += wrk(url, body, connections, 1, scratch)["requests"]  # warm-up
                    result = wrk(url, body, connections, args.duration, scratch)
                    rates.setdefault((rows, connections, logging), []).append(result["rps"])
                    answered += result["requests"]
                    print(
                        f"  round {round_number + 1} logging {'on ' if logging else 'off'} "
                        f"rows={rows:<4} c={connections:<3} {result['rps']:8.1f} req/s",
                        flush=True,
                    )
            finally:
                stop(server)
            if logging:
                lines = sum(1 for path in logs.glob("predictions*.jsonl") for _ in path.open())
                # wrk does not count requests cut off at the end, which the server may log.
                print(f"  {lines} log lines for {answered} answered requests (warm-ups included)")
                if lines < answered:
                    sys.exit("fewer log lines than answered requests: lines were lost")
                shutil.rmtree(logs)  # hundreds of MB of 100-row requests

    print("\n## throughput with logging / without (median of the rounds)")
    for rows, connections in LOADS:
        off = statistics.median(rates[(rows, connections, False)])
        on = statistics.median(rates[(rows, connections, True)])
        print(
            f"  rows={rows:<4} c={connections:<3} {off:8.1f} -> {on:8.1f} req/s: "
            f"x{on / off:.3f} (target >= 0.90)"
        )


if __name__ == "__main__":
    main()
