import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.deploy import bundle
from {{ cookiecutter.package_name }}.deploy.bundle import BundleError, check_and_load
from {{ cookiecutter.package_name }}.deploy.registry import Registry, RegistryError
from {{ cookiecutter.package_name }}.deploy.release import gate, git_commit
from {{ cookiecutter.package_name }}.errors import PipelineError

from .conftest import make_params, publish_tiny


def load(registry: Registry, version: str, **changes) -> bundle.Loaded:
    manifest = {**registry.manifest(version), **changes}
    files = {name: registry.read(version, name) for name in manifest["sha256"]}
    return check_and_load(manifest, files)


def test_publish_promote_and_rollback(registry: Registry, mixed_frame: pd.DataFrame) -> None:
    """Versions sort in publish order, carry the commit, and CURRENT follows promotion."""
    first = publish_tiny(registry, mixed_frame)
    second = publish_tiny(registry, mixed_frame, n_estimators=5)
    assert registry.versions() == [first, second] == ["0001-abc1234", "0002-abc1234"]
    assert registry.current() == second
    assert registry.previous() == first
    assert load(registry, second).version == second


def test_nothing_to_roll_back_to(registry: Registry, mixed_frame: pd.DataFrame) -> None:
    publish_tiny(registry, mixed_frame)
    with pytest.raises(RegistryError, match="no version before"):
        registry.previous()


def test_crash_mid_publish_leaves_current_valid(registry, mixed_frame, monkeypatch) -> None:
    """A crash before the manifest is written leaves an incomplete, ignored version."""
    good = publish_tiny(registry, mixed_frame)
    real_pipe = registry.fs.pipe_file

    def crash_on_manifest(path, data, **kwargs):
        if path.endswith("manifest.json"):
            raise OSError("simulated crash")
        return real_pipe(path, data, **kwargs)

    monkeypatch.setattr(registry.fs, "pipe_file", crash_on_manifest)
    with pytest.raises(OSError, match="simulated crash"):
        publish_tiny(registry, mixed_frame)
    monkeypatch.undo()
    assert registry.versions() == [good]
    assert registry.current() == good
    assert publish_tiny(registry, mixed_frame).startswith("0003-"), "numbers are never reused"


def test_crash_mid_promote_leaves_current_valid(registry, mixed_frame, monkeypatch) -> None:
    good = publish_tiny(registry, mixed_frame)
    monkeypatch.setattr(Path, "replace", lambda *args: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        publish_tiny(registry, mixed_frame)
    monkeypatch.undo()
    assert registry.current() == good
    assert load(registry, good).version == good


def test_tampered_file_is_refused(registry: Registry, mixed_frame: pd.DataFrame) -> None:
    version = publish_tiny(registry, mixed_frame)
    path = f"{registry.base}/versions/{version}/{bundle.MODEL_FILE}"
    registry.fs.pipe_file(path, registry.fs.cat_file(path) + b"\0")
    with pytest.raises(BundleError, match="sha256"):
        load(registry, version)


def test_other_sklearn_version_is_refused(registry: Registry, mixed_frame: pd.DataFrame) -> None:
    version = publish_tiny(registry, mixed_frame)
    with pytest.raises(BundleError, match=r"scikit-learn 0.1"):
        load(registry, version, sklearn_version="0.1")


def test_wrong_smoke_output_is_refused(registry: Registry, mixed_frame: pd.DataFrame) -> None:
    version = publish_tiny(registry, mixed_frame)
    smoke = registry.manifest(version)["smoke"]
    flipped = [1 - value for value in smoke["predictions"]]
    with pytest.raises(BundleError, match="smoke rows"):
        load(registry, version, smoke={**smoke, "predictions": flipped})


def test_untrusted_type_is_refused(registry: Registry, mixed_frame: pd.DataFrame) -> None:
    version = publish_tiny(registry, mixed_frame)
    manifest = registry.manifest(version)
    with pytest.raises(BundleError, match=r"untrusted types: builtins.eval"):
        load(registry, version, trusted_types=[*manifest["trusted_types"], "builtins.eval"])


def test_unlisted_type_in_archive_is_refused(registry: Registry, mixed_frame: pd.DataFrame) -> None:
    version = publish_tiny(registry, mixed_frame)
    with pytest.raises(BundleError, match="unlisted types"):
        load(registry, version, trusted_types=[])


def test_manifest_describes_the_model(registry: Registry, mixed_frame: pd.DataFrame) -> None:
    manifest = registry.manifest(publish_tiny(registry, mixed_frame))
    features = {f["name"]: f for f in manifest["features"]}
    assert features["colour"]["type"] == "string"
    assert features["colour"]["categories"] == ["blue", "green", "red"]
    assert features["size"]["nullable"] and not features["count"]["nullable"]
    assert manifest["classes"] == [0, 1]
    assert set(manifest["sha256"]) == {bundle.MODEL_FILE, bundle.PROFILE_FILE}
    assert json.loads(json.dumps(manifest)) == manifest


@pytest.mark.parametrize(
    ("metrics", "production", "message"),
    [
        ({"accuracy": 0.4}, None, "under the threshold"),
        ({"accuracy": 0.8}, {"version": "0001-x", "metrics": {"accuracy": 0.9}}, "worse than"),
        ({"f1": 0.9}, None, "deploy.metric 'accuracy' is not among the metrics"),
    ],
)
def test_gate_refuses(metrics, production, message) -> None:
    with pytest.raises(PipelineError, match=message):
        gate(metrics, make_params(), production)


def test_gate_allows_within_tolerance() -> None:
    params = make_params()
    production = {"version": "0001-x", "metrics": {"accuracy": 0.9}}
    assert "gate passed" in gate({"accuracy": 0.9}, params, production)


def test_a_version_from_uncommitted_work_is_marked_dirty(
    tmp_path: Path, monkeypatch, registry: Registry, mixed_frame: pd.DataFrame
) -> None:
    """The version id names the commit, and says -dirty when the workspace differs from it."""
    monkeypatch.chdir(tmp_path)
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q"], check=True)
    Path("params.yaml").write_text("task: classification\n")
    subprocess.run(["git", "add", "params.yaml"], check=True)
    subprocess.run(["git", *identity, "commit", "-qm", "first"], check=True)
    clean = git_commit()
    assert re.fullmatch(r"[0-9a-f]{7,}", clean)
    Path("params.yaml").write_text("task: regression\n")
    assert git_commit() == f"{clean}-dirty"
    version = registry.publish({}, {"metrics": {}}, git_commit())
    assert version == f"0001-{clean}-dirty" and registry.versions() == [version]
