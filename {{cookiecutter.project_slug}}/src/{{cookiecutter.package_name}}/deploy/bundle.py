"""The deployable bundle: the model in skops format, its manifest, and the checks on load.

Nothing here unpickles: the server loads skops archives, and only with the types the
manifest lists, which must come from numpy, scipy or scikit-learn.
"""

import hashlib
import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import sklearn
import skops.io as sio
from sklearn.pipeline import Pipeline

from ..errors import PipelineError
from ..pipeline.features import column_kinds

MODEL_FILE = "model.skops"
PROFILE_FILE = "reference_profile.json"
TRUSTED_MODULES = ("numpy.", "scipy.", "sklearn.")
SMOKE_ROWS = 5


class BundleError(PipelineError):
    """A version failed a check and must not be served."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def feature_schema(model: Pipeline, features: pd.DataFrame, profile: dict) -> list[dict]:
    """Each input column in training order: its kind, whether it may be missing (it was in
    training), and for text the categories the model knows."""
    kinds = column_kinds(features)
    encoder = model.named_steps["preprocess"].named_transformers_.get("categorical")
    known = dict(zip(kinds.categorical, getattr(encoder, "categories_", []), strict=False))
    schema = []
    for name in features.columns:
        entry = {
            "name": name,
            "type": "number" if name in kinds.numeric else "string",
            "nullable": profile["features"].get(name, {}).get("missing_rate", 1.0) > 0,
        }
        if name in known:
            entry["categories"] = sorted(str(v) for v in known[name] if isinstance(v, str))
        schema.append(entry)
    return schema


def frame_from_rows(rows: list[tuple], names: list[str], numeric: set[str]) -> pd.DataFrame:
    """Request rows as the model's input, in the form `prepare` gives training data:
    numbers as floats and text as objects, NaN for null in both."""
    data = {}
    for name, values in zip(names, zip(*rows, strict=True), strict=True):
        if name in numeric:
            data[name] = np.array(values, dtype=np.float64)  # None becomes NaN
        else:
            data[name] = np.array([np.nan if v is None else v for v in values], dtype=object)
    return pd.DataFrame(data, columns=names)


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-safe rows: missing values become None."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def outputs(model: Pipeline, frame: pd.DataFrame) -> dict:
    """Predictions, and class probabilities for a classifier, as plain lists.

    The preprocessing runs once and a classifier's predictions are read off its
    probabilities, as scikit-learn's own predict does, so serving pays for one pass.
    """
    features = model[:-1].transform(frame)
    estimator = model[-1]
    if not hasattr(estimator, "predict_proba"):
        return {"predictions": np.asarray(estimator.predict(features)).tolist()}
    probabilities = np.asarray(estimator.predict_proba(features))
    predictions = estimator.classes_[probabilities.argmax(axis=1)]
    return {"predictions": predictions.tolist(), "probabilities": probabilities.round(12).tolist()}


def build(
    model: Pipeline, test_features: pd.DataFrame, profile: bytes, facts: dict
) -> tuple[dict, dict]:
    """Serialise the model and describe it; returns (files, manifest)."""
    archive = sio.dumps(model)
    smoke = test_features.head(SMOKE_ROWS)
    files = {MODEL_FILE: archive, PROFILE_FILE: profile}
    manifest = {
        **facts,
        "sha256": {name: sha256(data) for name, data in files.items()},
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "features": feature_schema(model, test_features, json.loads(profile)),
        "classes": np.asarray(getattr(model, "classes_", [])).tolist(),
        "trusted_types": sorted(sio.get_untrusted_types(data=archive)),
        "smoke": {"rows": records(smoke), **outputs(model, smoke)},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return files, manifest


@dataclass(frozen=True)
class Loaded:
    """A checked model, ready to serve."""

    version: str
    manifest: dict
    model: Pipeline


def check_and_load(manifest: dict, files: dict[str, bytes]) -> Loaded:
    """Verify checksums, scikit-learn version, trusted types and smoke outputs, then load."""
    version = manifest.get("version", "?")
    for name, expected in manifest["sha256"].items():
        if sha256(files[name]) != expected:
            raise BundleError(f"version {version}: {name} does not match its sha256 checksum")
    if manifest["sklearn_version"] != sklearn.__version__:
        raise BundleError(
            f"version {version} was trained with scikit-learn {manifest['sklearn_version']}, "
            f"this server runs {sklearn.__version__}"
        )
    listed = set(manifest["trusted_types"])
    outside = sorted(name for name in listed if not name.startswith(TRUSTED_MODULES))
    if outside:
        raise BundleError(f"version {version} lists untrusted types: {', '.join(outside)}")
    found = set(sio.get_untrusted_types(data=files[MODEL_FILE]))
    if not found <= listed:
        raise BundleError(
            f"version {version} holds unlisted types: {', '.join(sorted(found - listed))}"
        )
    model = sio.loads(files[MODEL_FILE], trusted=sorted(listed))
    # The smoke rows take the same path as a request's rows, so the check covers serving.
    smoke = manifest["smoke"]
    names = [f["name"] for f in manifest["features"]]
    numeric = {f["name"] for f in manifest["features"] if f["type"] == "number"}
    rows = [tuple(row[name] for name in names) for row in smoke["rows"]]
    got = outputs(model, frame_from_rows(rows, names, numeric))
    if got["predictions"] != smoke["predictions"] or not np.allclose(
        got.get("probabilities", []), smoke.get("probabilities", []), atol=1e-9
    ):
        raise BundleError(f"version {version}: the smoke rows do not give the recorded outputs")
    return Loaded(version, manifest, model)
