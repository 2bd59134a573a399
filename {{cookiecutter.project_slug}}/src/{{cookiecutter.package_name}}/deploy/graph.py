"""The model as an ONNX graph that ONNX Runtime runs in microseconds where scikit-learn
takes milliseconds: the fitted pipeline after its derive step (derive.py stays Python and
runs first), with the numeric columns as one float64 tensor and the text columns as one
string tensor, never a tensor per column.

A graph is kept only when it gives scikit-learn's answers on the test rows: the same
labels, probabilities within TOLERANCE, regression values within TOLERANCE relative (or
absolute, under 1). The skops model stays the source of truth and the fallback. A graph is
data, not code: it is checksummed like the model, and loading it builds no Python object.
"""

import copy
import os
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument
from sklearn.pipeline import Pipeline

from ..errors import PipelineError

GRAPH_FILE = "model.onnx"
NUMBERS, TEXTS = "numbers", "texts"  # the graph's inputs
# A missing category reaches the graph as this text: the encoder learned NaN, its own
# level, under this name.
MISSING_TEXT = "nan"
UNSEEN_TEXT = "\x00nan"  # what a real "nan" becomes: no category is this
TOLERANCE = 1e-5
OPSETS = {"": 17, "ai.onnx.ml": 3}  # what the onnxruntime in uv.lock runs, on 3.10 too


def export(model: Pipeline, raw: pd.DataFrame, expected: dict) -> tuple[bytes | None, dict]:
    """The graph of a fitted model and the record of its check against scikit-learn's
    `expected` outputs for the raw test rows; (None, why) when a step does not convert or
    the answers differ."""
    preprocess = model.named_steps["preprocess"]
    groups = {name: list(columns) for name, _, columns in preprocess.transformers_}
    numeric, text = groups.get("numeric", []), groups.get("categorical", [])
    try:
        graph = convert(model, numeric, text)
        runner = GraphRunner(graph, numeric, text, getattr(model, "classes_", None))
        got = runner.outputs(model[:1].transform(raw))
    except Exception as error:  # any converter or runtime failure: no graph, say why
        message = " ".join(str(error).split())[:200]
        return None, {"skipped": f"a step does not convert: {type(error).__name__}: {message}"}
    difference, problem = compare(got, expected)
    if problem:
        return None, {"skipped": f"it disagrees with scikit-learn on the test rows: {problem}"}
    record = {
        "file": GRAPH_FILE,
        NUMBERS: numeric,
        TEXTS: text,
        "rows_compared": len(raw),
        "max_difference": difference,
        "onnxruntime": ort.__version__,
    }
    return graph, record


def convert(model: Pipeline, numeric: list[str], text: list[str]) -> bytes:
    """The model after its derive step as ONNX: its columns taken from two tensors, the
    preprocessing in float64 and its output cast to float32 for the estimator, as
    scikit-learn does (its trees compare float32 values with their thresholds; computing
    in float32 throughout moves values across thresholds)."""
    # Imported here: seconds to import, and only deploy converts.
    import onnx
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    from . import graph_imputer  # noqa: F401 - SimpleImputer in float64, registered

    preprocess = model.named_steps["preprocess"]
    # skl2onnx numbers columns across the inputs in order (numbers first, then texts): the
    # column transformer's names become those positions, in a copy of the fitted one.
    position = {name: i for i, name in enumerate([*numeric, *text])}
    grouped = copy.copy(preprocess)
    grouped.transformers_ = [
        (name, step, [position[column] for column in columns])
        for name, step, columns in grouped.transformers_
        if len(columns) and step != "drop"
    ]
    inputs = [(NUMBERS, DoubleTensorType([None, len(numeric)]))] if numeric else []
    inputs += [(TEXTS, StringTensorType([None, len(text)]))] if text else []
    features = convert_sklearn(grouped, initial_types=inputs, target_opset=OPSETS)
    width = len(preprocess.get_feature_names_out())
    produced = features.graph.output.pop()
    features.graph.node.append(
        onnx.helper.make_node("Cast", [produced.name], ["features"], to=onnx.TensorProto.FLOAT)
    )
    features.graph.output.append(
        onnx.helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, [None, width])
    )
    estimator = model[-1]
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    predicting = convert_sklearn(
        estimator,
        initial_types=[("features", FloatTensorType([None, width]))],
        target_opset=OPSETS,
        options=options,
    )
    predicting = onnx.compose.add_prefix(predicting, "estimator_", rename_inputs=False)
    # skl2onnx declares the lowest opsets each part needs; merging wants one set: the
    # versions both were converted for.
    for part in (features, predicting):
        del part.opset_import[:]
        part.opset_import.extend(
            onnx.helper.make_opsetid(domain, version) for domain, version in OPSETS.items()
        )
    whole = onnx.compose.merge_models(features, predicting, io_map=[("features", "features")])
    return whole.SerializeToString()


def compare(got: dict, expected: dict) -> tuple[float, str | None]:
    """The largest difference between two sets of outputs, and what breaks the tolerance."""
    if "probabilities" in expected:
        pairs = list(zip(got["predictions"], expected["predictions"], strict=True))
        # By type too: True == 1 == 1.0 in Python, not in a JSON answer or a monitor's count.
        wrong = sum(type(ours) is not type(theirs) or ours != theirs for ours, theirs in pairs)
        if wrong:
            return 1.0, f"{wrong} of {len(got['predictions'])} labels differ"
        ours, theirs = np.asarray(got["probabilities"]), np.asarray(expected["probabilities"])
        difference = float(np.max(np.abs(ours - theirs), initial=0.0))
        if difference > TOLERANCE:
            return difference, f"probabilities differ by up to {difference:.2g}"
        return difference, None
    ours, theirs = np.asarray(got["predictions"]), np.asarray(expected["predictions"])
    relative = np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1.0)
    difference = float(np.max(relative, initial=0.0))
    if difference > TOLERANCE:
        return difference, f"predictions differ by up to {difference:.2g} (relative)"
    return difference, None


RUNTIMES = ("auto", "onnx", "skops")


def runtime() -> str:
    """SERVE_RUNTIME: auto (the graph when a version has one, else scikit-learn), onnx
    (a version without a graph is refused) or skops (scikit-learn always)."""
    chosen = os.environ.get("SERVE_RUNTIME") or "auto"
    if chosen not in RUNTIMES:
        raise PipelineError(f"SERVE_RUNTIME={chosen!r} - use one of {', '.join(RUNTIMES)}")
    return chosen


def threads() -> int:
    """ONNX Runtime's threads per process (SERVE_ONNX_THREADS, 1): each server worker and
    each request batch runs on one core, the workers spread over the others."""
    given = os.environ.get("SERVE_ONNX_THREADS") or "1"
    if not given.isdigit() or int(given) < 1:
        raise PipelineError(f"SERVE_ONNX_THREADS={given!r} - use a whole number from 1")
    return int(given)


Scores = tuple[np.ndarray, np.ndarray | None]  # predictions; a classifier's probabilities


def as_outputs(predictions: np.ndarray, probabilities: np.ndarray | None) -> dict:
    """Scores as JSON's lists: predictions, and probabilities (rounded to 12 digits, so
    that the last bits of a float sum do not show) for a classifier."""
    if probabilities is None:
        return {"predictions": predictions.tolist()}
    return {"predictions": predictions.tolist(), "probabilities": probabilities.round(12).tolist()}


class GraphRunner:
    """An ONNX Runtime session of a graph, answering as scikit-learn's pipeline does.
    Pickled as its graph (a Dask worker builds its own session)."""

    def __init__(
        self, graph: bytes, numeric: list[str], text: list[str], classes: object = None
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads()
        # Built from a file alone in a new folder, never from bytes: a tensor may name
        # "external data", a file ONNX Runtime reads into the graph (from the working
        # directory, `..` and all, for a graph given as bytes), so a crafted graph could
        # answer with a secret's bytes. From the file, it refuses any path outside the
        # empty folder.
        with tempfile.TemporaryDirectory(prefix="graph-") as folder:
            path = Path(folder) / GRAPH_FILE
            path.write_bytes(graph)
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        self.graph, self.numeric, self.text = graph, numeric, text
        # A classifier's classes as the model holds them: skl2onnx labels bools and floats
        # as integers, so labels are read off the probabilities, as scikit-learn's are.
        self.classes = None if classes is None else np.asarray(classes)
        self.classifier = len(self.session.get_outputs()) > 1  # label and probabilities

    def __reduce__(self) -> tuple:
        return GraphRunner, (self.graph, self.numeric, self.text, self.classes)

    def outputs(self, features: pd.DataFrame) -> dict:
        """Predictions (and probabilities) as lists, for the derived features of some rows."""
        return as_outputs(*self.scores(features))

    def scores(self, features: pd.DataFrame) -> Scores:
        """Predictions (and probabilities) for the derived features of some rows."""
        numbers = features[self.numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        return self.run(numbers, features[self.text].to_numpy(dtype=object))

    def run(self, numbers: np.ndarray, texts: np.ndarray) -> Scores:
        """Scores for the two input blocks: numbers (float64, NaN for missing) and texts
        (objects, NaN or None for missing)."""
        feeds: dict[str, np.ndarray] = {}
        if self.numeric:
            feeds[NUMBERS] = np.asarray(numbers, dtype=np.float64)
        if self.text:
            texts = np.asarray(texts, dtype=object)
            # The graph knows a missing value as the text MISSING_TEXT: that text sent as a
            # value is an unseen category to scikit-learn, and so it is made here.
            texts = np.where(texts == MISSING_TEXT, UNSEEN_TEXT, texts)
            feeds[TEXTS] = np.where(pd.isna(texts), MISSING_TEXT, texts).astype(str)
        try:
            results = self.session.run(None, feeds)
        except InvalidArgument as error:  # the rows' fault, as scikit-learn's ValueError
            raise ValueError(str(error)) from error
        if not self.classifier:
            return results[0].ravel().astype(np.float64), None
        probabilities = results[1].astype(np.float64)
        if self.classes is None:
            return results[0], probabilities
        return self.classes[probabilities.argmax(axis=1)], probabilities
