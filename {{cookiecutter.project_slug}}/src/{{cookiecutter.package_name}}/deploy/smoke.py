"""`make smoke`: check that a server serves an environment's version and answers with it.

Given a URL (http or https; no admin token needed), it checks that server; without one it
starts the real server on a free loopback port, following that environment of
MODEL_REGISTRY, checks it and stops it. The checks: /health/ready answers 200 with the
version the environment's pointer names (servers follow the pointer every few seconds, so
it waits up to VERSION_WAIT for the swap), and the manifest's smoke rows get 200 from
/predict with that version.
"""

import argparse
import importlib.util
import time

from ..errors import PipelineError
from ..params import load_params
from . import release
from .bundle import load_version
from .check import PACKAGE, call, local_server

VERSION_WAIT = 30.0


def smoke(env: str | None = None, url: str | None = None, wait: float = VERSION_WAIT) -> str:
    """Check the server at `url`, or a local one, against what `env` serves."""
    env = release.environment(env)
    store = release.registry(load_params())
    version = release.served_version(store, env)
    manifest = store.manifest(version)
    if url:
        return check_server(url, manifest, wait)
    if importlib.util.find_spec(f"{PACKAGE}.serve") is None:  # baked with serving=none
        load_version(store, version)
        return (
            f"no server to check: this project has none (baked with serving=none) - version "
            f"{version}, which {env} serves, loads and passes its checks; give URL=... to "
            "check a server of your own"
        )
    with local_server(release.registry_root(), manifest["name"], env) as base:
        return check_server(base, manifest, wait)


def check_server(url: str, manifest: dict, wait: float = VERSION_WAIT) -> str:
    """Ready with the manifest's version (within `wait` seconds), then one prediction of
    the smoke rows answered with it."""
    if not url.startswith(("http://", "https://")):
        raise PipelineError(f"URL={url!r} must start with http:// or https://")
    base, version = url.rstrip("/"), manifest["version"]
    deadline = time.monotonic() + wait
    while True:
        try:
            status, answer = call(f"{base}/health/ready")
        except OSError as error:  # refused, unresolvable, timed out, bad certificate
            status, answer = None, {"error": str(getattr(error, "reason", error))}
        if status == 200 and answer.get("model_version") == version:
            break
        if time.monotonic() > deadline:
            raise PipelineError(
                f"{base}/health/ready answered {status or 'nothing'} {answer} for {wait:g} s, "
                f"not version {version} - is the server following this environment "
                "(DEPLOY_ENV) of this registry (MODEL_REGISTRY)?"
            )
        time.sleep(0.5)
    rows = manifest["smoke"]["rows"]
    try:
        status, answer = call(f"{base}/predict", {"records": rows})
    except OSError as error:
        raise PipelineError(f"{base}/predict failed: {getattr(error, 'reason', error)}") from None
    predictions = answer.get("predictions")
    answered = isinstance(predictions, list) and len(predictions) == len(rows)
    if status != 200 or answer.get("model_version") != version or not answered:
        raise PipelineError(f"{base}/predict answered the smoke rows with {status} {answer}")
    return f"smoke passed: {base} serves version {version}, {len(rows)} smoke rows predicted"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="smoke", description=smoke.__doc__)
    release.env_option(parser)
    parser.add_argument("--url", help="the server to check (default: start one on loopback)")
    arguments = parser.parse_args(argv)
    print(smoke(arguments.env, arguments.url))
