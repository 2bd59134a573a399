"""The deployable bundle: the model in skops format, its manifest, and the checks on load.

Nothing here unpickles: the server loads skops archives, and only when every type and
function in the archive is on the exact list in trusted.py (the manifest's list is a
record, not a permission).
"""

import hashlib
import io
import json
import logging
import platform
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import sklearn
import skops.io as sio
from sklearn.pipeline import Pipeline

from ..errors import PipelineError
from ..pipeline.derive_step import check_code
from ..pipeline.features import column_kinds, input_types, to_dates
from . import graph
from .trusted import TRUSTED_TYPES

log = logging.getLogger(__name__)

MODEL_FILE = "model.skops"
PROFILE_FILE = "reference_profile.json"
SMOKE_ROWS = 5
# The largest number a model can take: scikit-learn's trees and forests cast their input to
# float32, where anything beyond this is infinity and fails the whole predict call. The
# server, `make predict` and `make monitor` refuse such values alike.
FLOAT32_MAX = 3.4028234663852886e38
FINITE_NUMBER = f"a finite number within ±{FLOAT32_MAX:.4g} (the model's float32)"


class BundleError(PipelineError):
    """A version failed a check and must not be served."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def feature_schema(model: Pipeline, features: pd.DataFrame, profile: dict) -> list[dict]:
    """Each raw input column in training order: its type, whether it may be missing (it was
    in training), and for text the model consumes as it is, the categories it knows."""
    encoder = model.named_steps["preprocess"].named_transformers_.get("categorical")
    encoded = getattr(encoder, "feature_names_in_", [])
    known = dict(zip(encoded, getattr(encoder, "categories_", []), strict=False))
    schema = []
    missing = {entry["name"]: entry["missing_rate"] for entry in profile["inputs"]}
    for entry in input_types(features):
        name = entry["name"]
        entry["nullable"] = missing.get(name, 1.0) > 0
        if name in known and entry["type"] == "string":
            entry["categories"] = sorted(str(v) for v in known[name] if isinstance(v, str))
        schema.append(entry)
    return schema


def blocks_from_rows(
    rows: list[tuple], names: list[str], numeric: set[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (values in training order, None for null) as two [rows, columns] blocks: the
    numeric columns as floats, the text ones as objects, NaN for null in both."""
    numbers = [i for i, name in enumerate(names) if name in numeric]
    texts = [i for i, name in enumerate(names) if name not in numeric]
    number_block = np.array([[row[i] for i in numbers] for row in rows], dtype=np.float64)
    text_block = np.array(
        [[np.nan if row[i] is None else row[i] for i in texts] for row in rows], dtype=object
    )
    return number_block.reshape(len(rows), len(numbers)), text_block.reshape(len(rows), len(texts))


def frame_from_blocks(
    names: list[str],
    numbers: np.ndarray,
    numeric: list[str],
    texts: np.ndarray,
    dates: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The model's input, in the form `prepare` gives training data, from the blocks
    blocks_from_rows makes (`numeric`: the number block's columns, in training order;
    `dates`: the date columns' values, parsed, in place of their text)."""
    if len(numeric) == len(names):  # numbers only: one block, no copy per column
        return pd.DataFrame(numbers, columns=names, copy=False)
    in_numbers = set(numeric)
    text = [name for name in names if name not in in_numbers]
    columns = dict(zip(numeric, numbers.T, strict=True)) | dict(zip(text, texts.T, strict=True))
    columns |= dates or {}
    return pd.DataFrame({name: columns[name] for name in names})


def frame_from_rows(rows: list[tuple], features: list[dict]) -> pd.DataFrame:
    """Rows as the model's input, by the path a request's rows take (the smoke check)."""
    names = [feature["name"] for feature in features]
    numeric = [f["name"] for f in features if f["type"] == "number"]
    numbers, texts = blocks_from_rows(rows, names, set(numeric))
    text = [name for name in names if name not in numeric]
    dates = {
        f["name"]: to_dates(texts[:, text.index(f["name"])], f["name"]).to_numpy()
        for f in features
        if f["type"] == "datetime"
    }
    return frame_from_blocks(names, numbers, numeric, texts, dates)


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-safe rows: dates as ISO 8601 text, missing values None."""
    iso = {
        name: frame[name].map(pd.Timestamp.isoformat, na_action="ignore")
        for name in column_kinds(frame).dates
    }
    frame = frame.assign(**iso) if iso else frame
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def scores(model: Pipeline, frame: pd.DataFrame) -> graph.Scores:
    """scikit-learn's predictions for raw rows, and a classifier's probabilities.

    The preprocessing runs once and a classifier's predictions are read off its
    probabilities, as scikit-learn's own predict does, so serving pays for one pass.
    """
    features = model[:-1].transform(frame)
    estimator = model[-1]
    if not hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict(features)), None
    probabilities = np.asarray(estimator.predict_proba(features), dtype=np.float64)
    return estimator.classes_[probabilities.argmax(axis=1)], probabilities


def outputs(model: Pipeline, frame: pd.DataFrame) -> dict:
    """scikit-learn's predictions, and class probabilities for a classifier, as lists."""
    return graph.as_outputs(*scores(model, frame))


def _named_types(node, found: set[str]) -> None:
    """Every "module.Class" the archive's schema names, at any depth."""
    if isinstance(node, dict):
        if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
            found.add(f"{node['__module__']}.{node['__class__']}")
        for value in node.values():
            _named_types(value, found)
    elif isinstance(node, list):
        for value in node:
            _named_types(value, found)


def archive_types(archive: bytes) -> tuple[list[str], set[str]]:
    """What a skops archive would build or call, read without loading it: the names skops
    itself does not trust (what loading must be told to trust), and every name it holds
    (those, plus each node's class in its schema)."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle_zip:
            schema = json.loads(bundle_zip.read("schema.json"))
        needed = sorted(sio.get_untrusted_types(data=archive))
    except Exception as error:  # a broken zip or schema: nothing is loaded from it
        raise BundleError(f"{MODEL_FILE} is not a readable skops archive: {error}") from None
    found = set(needed)
    _named_types(schema, found)
    return needed, found


def untrusted(archive: bytes) -> list[str]:
    """The archive's types that are not on the allow-list in trusted.py."""
    return sorted(archive_types(archive)[1] - TRUSTED_TYPES)


def checked_types(archive: bytes, what: str) -> list[str]:
    """The names skops must be told to trust, once every type the archive holds is on the
    allow-list; else BundleError naming the others and where to add them."""
    needed, found = archive_types(archive)
    outside = sorted(found - TRUSTED_TYPES)
    if outside:
        raise BundleError(
            f"{what} holds types outside the allow-list: {', '.join(outside)} - if you trust "
            f"them, add them to EXTRA_TRUSTED_TYPES in src/{__package__.replace('.', '/')}/"
            "trusted.py"
        )
    return needed


def build(
    model: Pipeline, test_features: pd.DataFrame, profile: bytes, facts: dict
) -> tuple[dict, dict]:
    """Serialise the model and describe it; returns (files, manifest)."""
    archive = sio.dumps(model)
    needed = checked_types(archive, "the model")  # what the server would refuse, refused now
    check_code(model, "the model in models/")  # never ship features the code cannot make
    smoke = test_features.head(SMOKE_ROWS)
    files = {MODEL_FILE: archive, PROFILE_FILE: profile}
    compiled, record = graph.export(model, test_features, outputs(model, test_features))
    if compiled is not None:
        files[graph.GRAPH_FILE] = compiled
    manifest = {
        **facts,
        "sha256": {name: sha256(data) for name, data in files.items()},
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "features": feature_schema(model, test_features, json.loads(profile)),
        "classes": np.asarray(getattr(model, "classes_", [])).tolist(),
        "trusted_types": needed,
        "derive_hash": model.named_steps["derive"].code_hash_,
        "graph": record,
        "smoke": {"rows": records(smoke), **outputs(model, smoke)},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return files, manifest


@dataclass(frozen=True)
class Loaded:
    """A checked model, ready to serve, with the version's files; its ONNX graph's runner
    when it serves through ONNX Runtime."""

    version: str
    manifest: dict
    model: Pipeline
    files: dict[str, bytes]
    runner: graph.GraphRunner | None = None

    @property
    def runtime(self) -> str:
        return "skops" if self.runner is None else "onnx"

    def scores(self, frame: pd.DataFrame) -> graph.Scores:
        """Predictions (and a classifier's probabilities) for raw rows, through the graph
        where there is one: derive.py's features first, in Python, either way."""
        if self.runner is None:
            return scores(self.model, frame)
        return self.runner.scores(self.model[:1].transform(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.scores(frame)[0]

    def outputs(self, frame: pd.DataFrame) -> dict:
        """Predictions (and probabilities) for raw rows, as lists."""
        return graph.as_outputs(*self.scores(frame))


def verified(version: str, name: str, data: bytes, expected: str) -> bytes:
    """A version's file when it matches its manifest's checksum; BundleError otherwise."""
    if sha256(data) != expected:
        raise BundleError(f"version {version}: {name} does not match its sha256 checksum")
    return data


def load_version(store, version: str, runtime: str | None = None) -> Loaded:
    """The version a registry holds under this id (the folder a pointer names), read and
    checked: its manifest must say it is this version of this model, then every check of
    check_and_load. `store`: a deploy.registry.Registry; `runtime`: SERVE_RUNTIME's."""
    manifest = store.manifest(version)
    said = (manifest.get("version"), manifest.get("name"))
    if said != (version, store.model):
        raise BundleError(
            f"version {version}: its manifest says it is version {said[0]!r} of model "
            f"{said[1]!r}, not version {version!r} of {store.model!r} - a copied or moved "
            "version folder; deploy the model again instead"
        )
    files = {name: store.read(version, name) for name in manifest["sha256"]}
    return check_and_load(manifest, files, runtime)


def check_and_load(manifest: dict, files: dict[str, bytes], runtime: str | None = None) -> Loaded:
    """Verify checksums, scikit-learn version, trusted types and smoke outputs, then load."""
    version = manifest.get("version", "?")
    for name, expected in manifest["sha256"].items():
        verified(version, name, files[name], expected)
    if manifest["sklearn_version"] != sklearn.__version__:
        raise BundleError(
            f"version {version} was trained with scikit-learn {manifest['sklearn_version']}, "
            f"this server runs {sklearn.__version__}"
        )
    # Every type in the archive is checked against the allow-list before any object is
    # built; the manifest's list, written by whoever published, grants nothing.
    found = set(checked_types(files[MODEL_FILE], f"version {version}"))
    listed = set(manifest["trusted_types"])
    if not found <= listed:  # the manifest no longer describes the archive: tampered
        raise BundleError(
            f"version {version} holds unlisted types: {', '.join(sorted(found - listed))}"
        )
    model = sio.loads(files[MODEL_FILE], trusted=sorted(found))
    check_code(model, f"version {version}")  # features computed as at training, or refused
    # The smoke rows take the same path as a request's rows, so the check covers serving.
    smoke = manifest["smoke"]
    names = [f["name"] for f in manifest["features"]]
    rows = [tuple(row[name] for name in names) for row in smoke["rows"]]
    frame = frame_from_rows(rows, manifest["features"])
    got = outputs(model, frame)
    if got["predictions"] != smoke["predictions"] or not np.allclose(
        got.get("probabilities", []), smoke.get("probabilities", []), atol=1e-9
    ):
        raise BundleError(f"version {version}: the smoke rows do not give the recorded outputs")
    loaded = Loaded(version, manifest, model, files)
    return replace(loaded, runner=graph_runner(loaded, frame, got, runtime or graph.runtime()))


def graph_runner(
    loaded: Loaded, smoke: pd.DataFrame, expected: dict, chosen: str
) -> graph.GraphRunner | None:
    """The version's graph in ONNX Runtime, as the runtime `chosen` (SERVE_RUNTIME) asks,
    once it answers the smoke rows as scikit-learn does; None to serve through scikit-learn.
    With onnx, a version without a working graph is refused, saying why."""
    record = loaded.manifest.get("graph") or {}
    if chosen == "skops":
        return None
    why = record.get("skipped", "it was deployed before graphs were")
    if graph.GRAPH_FILE in loaded.files:
        graph.threads()  # a bad SERVE_ONNX_THREADS is said as such, not taken for the graph's
        try:
            runner = graph.GraphRunner(
                loaded.files[graph.GRAPH_FILE],
                record[graph.NUMBERS],
                record[graph.TEXTS],
                getattr(loaded.model, "classes_", None),
            )
            _, problem = graph.compare(runner.outputs(loaded.model[:1].transform(smoke)), expected)
        except Exception as error:  # an onnxruntime that cannot run it, a broken record
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            return runner
        why = f"its graph does not answer the smoke rows as scikit-learn does: {problem}"
    if chosen == "onnx":
        raise BundleError(
            f"version {loaded.version} has no ONNX graph to serve ({why}) - unset "
            "SERVE_RUNTIME (auto) to serve it through scikit-learn"
        )
    if graph.GRAPH_FILE in loaded.files:
        log.warning("version %s serves through scikit-learn: %s", loaded.version, why)
    return None
