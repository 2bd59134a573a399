"""The pipeline's files by name, as dvc.yaml's `vars` list them under `paths`.

Each path is written once, in dvc.yaml; deploy and the monitor read the stage outputs
they need (model, profile, metrics, test rows) from there rather than keeping copies.
"""

import re
from pathlib import Path

import yaml

from . import yamlio
from .errors import PipelineError

PIPELINE = Path("dvc.yaml")
VARIABLE = re.compile(r"\$\{\s*([\w.]+)\s*\}")  # ${paths.model}, as dvc.yaml refers to a var
OUTPUT_KEYS = ("outs", "metrics", "plots")  # what a stage writes, in dvc.yaml's words


def pipeline_document(pipeline: Path = PIPELINE) -> dict:
    try:
        document = yamlio.load(pipeline.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise PipelineError(f"cannot read {pipeline}: {error}") from error
    if not isinstance(document, dict):
        raise PipelineError(f"{pipeline} is not a mapping of vars and stages - restore it")
    return document


def paths(pipeline: Path = PIPELINE) -> dict[str, str]:
    """Every path dvc.yaml names under vars: paths, by name."""
    named: dict[str, str] = {}
    for entry in pipeline_document(pipeline).get("vars", []):
        found = entry.get("paths") if isinstance(entry, dict) else None
        for name, path in found.items() if isinstance(found, dict) else []:
            named.setdefault(str(name), str(path))  # the first block naming it, as DVC reads
    return named


def product(name: str, pipeline: Path = PIPELINE) -> Path:
    """The path dvc.yaml names `name` under vars: paths (e.g. model, test, metrics)."""
    named = paths(pipeline)
    if name in named:
        return Path(named[name])
    raise PipelineError(
        f"{pipeline} names no path {name!r} under `vars: paths` - add it there and refer to "
        f"it as paths.{name} in the stage that writes it"
    )


def outputs(pipeline: Path = PIPELINE) -> list[Path]:
    """Every file or folder a stage of dvc.yaml writes (its outs, metrics and plots), with
    the ${paths.name} it refers to them by resolved."""
    document = pipeline_document(pipeline)
    values = {f"paths.{name}": path for name, path in paths(pipeline).items()}
    for entry in document.get("vars", []):
        if isinstance(entry, dict):
            values |= {
                str(key): str(value) for key, value in entry.items() if isinstance(value, str)
            }
    written = []
    stages = document.get("stages")
    for stage in stages.values() if isinstance(stages, dict) else []:
        for key in OUTPUT_KEYS:
            entries = stage.get(key) if isinstance(stage, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                # An output is a path, or a mapping of one path to its options (cache: false).
                for path in entry if isinstance(entry, dict) else [entry]:
                    resolved = VARIABLE.sub(lambda match: values.get(match[1], match[0]), str(path))
                    written.append(Path(resolved))
    return written
