"""One command line for the project: `python -m <package> <command> [options]`."""

import importlib
import logging
import sys

from .errors import PipelineError
from .lockcheck import snapshot, verify

STAGES = ("ingest", "validate", "split", "train", "evaluate", "profile")
USAGE = f"""usage: python -m {__package__} <command> [options]

pipeline stages (run by `dvc repro`, see dvc.yaml): {", ".join(STAGES)}
snapshot-lock   remember dvc.lock before a run
verify          fail if the run changed dvc.lock
deploy          gate, publish and promote the model (MODEL_REGISTRY, default registry/)
rollback        promote the previous version
models          list the versions, the current one marked *
deploy-check    deploy to a throwaway registry, serve it, predict once
compare         report metrics, params and plots against a git revision
monitor         compare a batch with the current model's reference: exit 0 no drift,
                1 drift, 2 unusable input
serve           run the REST server (settings from SERVE_* variables)
"""


def run(command: str, argv: list[str]) -> None:
    if command in STAGES:
        importlib.import_module(f".stages.{command}", __package__).main(argv)
    elif command == "snapshot-lock":
        snapshot()
    elif command == "verify":
        print(verify())
    elif command in ("deploy", "rollback", "models"):
        print(getattr(importlib.import_module(".deploy", __package__), command)())
    elif command == "deploy-check":
        print(importlib.import_module(".deploycheck", __package__).main())
    elif command == "monitor":
        importlib.import_module(".monitor", __package__).main(argv)
    elif command == "compare":
        importlib.import_module(".compare", __package__).main(argv)
    elif command == "serve":
        importlib.import_module(".serve.main", __package__).main()
    else:
        print(USAGE, file=sys.stderr)
        raise SystemExit(0 if command in ("-h", "--help") else 2)


def main() -> int:
    # Our own progress at INFO; libraries (cloud SDKs log every HTTP call) only from WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger(__package__).setLevel(logging.INFO)
    if len(sys.argv) < 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        run(sys.argv[1], sys.argv[2:])
    except PipelineError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
