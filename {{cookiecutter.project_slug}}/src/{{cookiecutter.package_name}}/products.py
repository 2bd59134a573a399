"""The pipeline's files by name, as dvc.yaml's `vars` list them under `paths`.

Each path is written once, in dvc.yaml; deploy and the monitor read the stage outputs
they need (model, profile, metrics, test rows) from there rather than keeping copies.
"""

from pathlib import Path

import yaml

from . import yamlio
from .errors import PipelineError

PIPELINE = Path("dvc.yaml")


def product(name: str, pipeline: Path = PIPELINE) -> Path:
    """The path dvc.yaml names `name` under vars: paths (e.g. model, test, metrics)."""
    try:
        document = yamlio.load(pipeline.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise PipelineError(f"cannot read {pipeline}: {error}") from error
    for entry in document.get("vars", []):
        paths = entry.get("paths") if isinstance(entry, dict) else None
        if isinstance(paths, dict) and name in paths:
            return Path(paths[name])
    raise PipelineError(
        f"{pipeline} names no path {name!r} under `vars: paths` - add it there and refer to "
        f"it as paths.{name} in the stage that writes it"
    )
