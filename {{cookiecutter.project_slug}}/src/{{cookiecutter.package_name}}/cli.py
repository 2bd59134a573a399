"""One command line for the project: `python -m <package> <command> [options]`.

The pipeline's stages are the modules in stages/, found when the command line starts, so
a new stage needs no entry here. Every command takes its arguments and prints (or logs)
what it has to say; the functions behind it return values and print nothing.
"""

import importlib
import logging
import sys

from . import stages
from .errors import PipelineError

# The commands besides the stages: name -> ("module:function", what it does).
COMMANDS = {
    "inputs": ("inputs:main", "fetch the DVC-tracked inputs missing here from the DVC remote"),
    "snapshot-lock": ("lockcheck:snapshot_main", "remember dvc.lock before a run"),
    "verify": ("lockcheck:verify_main", "fail if the run changed dvc.lock"),
    "deploy": ("deploy.release:deploy_main", "gate, publish, point DEPLOY_ENV at the model"),
    "promote": ("deploy.release:promote_main", "point TO at the version FROM serves"),
    "rollback": ("deploy.release:rollback_main", "serve DEPLOY_ENV's previous version again"),
    "models": ("deploy.release:models_main", "list the versions and who serves them"),
    "card": ("deploy.release:card_main", "print the model card of DEPLOY_ENV's version"),
    "smoke": ("deploy.smoke:main", "check a server: ready, DEPLOY_ENV's version, a prediction"),
    "deploy-check": ("deploy.check:main", "deploy to a throwaway registry and check it serves"),
    "experiments": ("experiments:main", "list experiments: metrics and the params each changed"),
    "compare": ("compare:main", "report metrics, params and plots of two revisions or experiments"),
    "monitor": ("monitoring.monitor:main", "check a batch for drift: exit 0, 1 drift, 2 unusable"),
    "feedback": ("monitoring.outcomes:main", "store outcomes (prediction_id, target) from a file"),
    "performance": ("monitoring.performance:main", "live metrics per version from outcomes"),
    "predict": ("scoring:main", "score DATA with DEPLOY_ENV's version into Parquet parts at --out"),
    "sbom": ("sbom:main", "write a CycloneDX SBOM of the installed packages from uv.lock"),
    "update": ("update:main", "bring in the template's changes since the project's commit"),
    "template-check": ("update:check_main", "say whether the template has moved on"),
{%- if cookiecutter.serving == "fastapi" %}
    "serve": ("serve.main:main", "run the REST server (settings: SERVE_* variables, see --help)"),
    "sbom-attach": ("sbom_referrer:main", "push the SBOM beside an image as its OCI referrer"),
{%- endif %}
}


def usage() -> str:
    lines = [f"usage: python -m {__package__} <command> [options]", ""]
    lines.append(f"pipeline stages (run by `dvc repro`, see dvc.yaml): {', '.join(stages.names())}")
    lines += [f"{name:<14} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def run(command: str, argv: list[str]) -> None:
    """Run one command with its arguments."""
    if command in stages.names():
        if command in COMMANDS:
            raise PipelineError(f"stages/{command}.py is named like a command - rename the stage")
        importlib.import_module(f"{__package__}.stages.{command}").main(argv)
    elif command in COMMANDS:
        module, function = COMMANDS[command][0].split(":")
        getattr(importlib.import_module(f"{__package__}.{module}"), function)(argv)
    else:
        print(usage(), file=sys.stderr)
        raise SystemExit(0 if command in ("-h", "--help") else 2)


def main() -> int:
    # Our own progress at INFO; libraries (cloud SDKs log every HTTP call) only from WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger(__package__).setLevel(logging.INFO)
    if len(sys.argv) < 2:
        print(usage(), file=sys.stderr)
        return 2
    try:
        run(sys.argv[1], sys.argv[2:])
    except PipelineError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return error.exit_code
    return 0
