"""The ONNX graph deploy exports: the same answers as scikit-learn, or no graph and why; a
version served through it, or through scikit-learn when it has none or SERVE_RUNTIME says."""

import json

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.deploy import bundle, graph
from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.stages.train import train

from .conftest import make_params, publish_tiny, small_frame

pytestmark = pytest.mark.machinery

KINDS = {
    "numbers": ["size", "count"],
    "text": ["colour"],
    "both": ["size", "count", "colour"],
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("estimator", ["random_forest", "gradient_boosting", "linear"])
def test_a_graph_gives_scikit_learns_answers_or_is_left_out(estimator, task, kind) -> None:
    """Forests and linear models convert for both tasks and any kinds of columns, within
    the tolerance; what does not convert (gradient boosting here) ships without a graph,
    saying why."""
    frame = small_frame(task)[[*KINDS[kind], "target"]]
    model = train(frame, make_params(task, estimator))
    raw = frame.drop(columns="target")
    expected = bundle.outputs(model, raw)
    compiled, record = graph.export(model, raw, expected)
    if compiled is None:
        assert estimator == "gradient_boosting", record
        assert record["skipped"].startswith("a step does not convert")
        return
    assert record["rows_compared"] == len(raw) and record["max_difference"] <= graph.TOLERANCE
    runner = graph.GraphRunner(compiled, record[graph.NUMBERS], record[graph.TEXTS])
    got = runner.outputs(model[:1].transform(raw))
    assert got["predictions"] == expected["predictions"] or task == "regression"
    assert graph.compare(got, expected)[1] is None


def test_missing_and_unseen_values_reach_the_graph_as_the_model_takes_them(mixed_frame):
    model = train(mixed_frame, make_params())
    raw = mixed_frame.drop(columns="target")
    compiled, record = graph.export(model, raw, bundle.outputs(model, raw))
    rows = pd.DataFrame({"size": [np.nan, 11.0], "count": [2, 0], "colour": [None, "purple"]})
    runner = graph.GraphRunner(compiled, record[graph.NUMBERS], record[graph.TEXTS])
    got, expected = runner.outputs(model[:1].transform(rows)), bundle.outputs(model, rows)
    assert graph.compare(got, expected)[1] is None


def test_a_version_serves_through_its_graph_or_scikit_learn(registry, mixed_frame, monkeypatch):
    """With a graph: ONNX Runtime (auto), scikit-learn when SERVE_RUNTIME=skops; without
    one: scikit-learn, and SERVE_RUNTIME=onnx refuses it saying why."""
    forest = publish_tiny(registry, mixed_frame)
    boosted = publish_tiny(registry, mixed_frame, estimator="gradient_boosting")
    assert bundle.load_version(registry, forest).runtime == "onnx"
    assert bundle.load_version(registry, boosted).runtime == "skops"
    monkeypatch.setenv("SERVE_RUNTIME", "skops")
    assert bundle.load_version(registry, forest).runtime == "skops"
    monkeypatch.setenv("SERVE_RUNTIME", "onnx")
    assert bundle.load_version(registry, forest).runtime == "onnx"
    with pytest.raises(bundle.BundleError, match=f"version {boosted} has no ONNX graph to serve"):
        bundle.load_version(registry, boosted)
    monkeypatch.setenv("SERVE_RUNTIME", "fast")
    with pytest.raises(bundle.PipelineError, match="SERVE_RUNTIME='fast' - use one of auto"):
        bundle.load_version(registry, forest)


def test_the_graphs_answers_are_scikit_learns(registry: Registry, mixed_frame) -> None:
    loaded = bundle.load_version(registry, publish_tiny(registry, mixed_frame))
    raw = mixed_frame.drop(columns="target")
    got, expected = loaded.outputs(raw), bundle.outputs(loaded.model, raw)
    assert got["predictions"] == expected["predictions"]
    assert np.allclose(got["probabilities"], expected["probabilities"], atol=graph.TOLERANCE)


def test_a_tampered_graph_is_refused(registry: Registry, mixed_frame) -> None:
    version = publish_tiny(registry, mixed_frame)
    path = f"{registry.base}/versions/{version}/{graph.GRAPH_FILE}"
    registry.fs.pipe_file(path, registry.fs.cat_file(path) + b"\0")
    with pytest.raises(bundle.BundleError, match=f"{graph.GRAPH_FILE} does not match its sha256"):
        bundle.load_version(registry, version)


def graph_of(tensor) -> bytes:
    """A graph answering with one constant tensor (IR 8: every onnxruntime in the range)."""
    from onnx import TensorProto, helper

    answer = helper.make_tensor_value_info("out", TensorProto.UINT8, [7])
    nodes = [helper.make_node("Identity", [tensor.name], ["out"])]
    body = helper.make_graph(nodes, "crafted", [], [answer], initializer=[tensor])
    opsets = [helper.make_opsetid("", 17)]
    return helper.make_model(body, opset_imports=opsets, ir_version=8).SerializeToString()


@pytest.mark.parametrize("location", ["secret.txt", "../secret.txt", "/etc/hostname"])
def test_a_graph_naming_external_data_reads_no_file(tmp_path, monkeypatch, location) -> None:
    """A crafted graph whose tensor names a file (a secret beside the server, say) is
    refused instead of answering with the file's bytes; the same graph holding its bytes
    itself loads."""
    from onnx import TensorProto, helper

    (tmp_path / "work").mkdir()
    for folder in (tmp_path, tmp_path / "work"):
        (folder / "secret.txt").write_bytes(b"hunter2")
    monkeypatch.chdir(tmp_path / "work")
    inline = helper.make_tensor("leak", TensorProto.UINT8, [7], list(b"public!"))
    assert graph.GraphRunner(graph_of(inline), [], []).session.run(None, {})[0].tobytes() == (
        b"public!"
    )
    external = TensorProto(name="leak", data_type=TensorProto.UINT8, dims=[7])
    external.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, "offset": "0", "length": "7"}.items():
        external.external_data.add(key=key, value=value)
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's errors have no common class
        graph.GraphRunner(graph_of(external), [], [])


@pytest.mark.parametrize("kind", ["bool", "float64"])
def test_labels_keep_the_classes_type(kind: str) -> None:
    """skl2onnx labels bool and float classes as integers: the graph's answers still carry
    the model's classes (true, 1.0), never 1, which a JSON client or the monitor would see."""
    frame = small_frame()
    frame = frame.assign(target=frame["target"].astype(kind))
    model = train(frame, make_params())
    raw = frame.drop(columns="target")
    expected = bundle.outputs(model, raw)
    compiled, record = graph.export(model, raw, expected)
    assert compiled is not None, record
    runner = graph.GraphRunner(compiled, record[graph.NUMBERS], record[graph.TEXTS], model.classes_)
    got = runner.outputs(model[:1].transform(raw))
    assert json.dumps(got["predictions"]) == json.dumps(expected["predictions"])
    as_integers = {**expected, "predictions": [int(label) for label in expected["predictions"]]}
    assert graph.compare(as_integers, expected)[1] == f"{len(raw)} of {len(raw)} labels differ"


def test_the_text_nan_is_a_category_not_a_missing_value(mixed_frame) -> None:
    model = train(mixed_frame, make_params(estimator="linear"))
    raw = mixed_frame.drop(columns="target")
    compiled, record = graph.export(model, raw, bundle.outputs(model, raw))
    rows = pd.DataFrame({"size": [10.0, 10.0], "count": [2, 2], "colour": ["nan", None]})
    runner = graph.GraphRunner(compiled, record[graph.NUMBERS], record[graph.TEXTS])
    got, expected = runner.outputs(model[:1].transform(rows)), bundle.outputs(model, rows)
    assert graph.compare(got, expected)[1] is None
