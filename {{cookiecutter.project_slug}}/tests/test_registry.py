import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from {{ cookiecutter.package_name }}.deploy import bundle, release
from {{ cookiecutter.package_name }}.deploy.bundle import BundleError, check_and_load
from {{ cookiecutter.package_name }}.deploy.graph import GRAPH_FILE
from {{ cookiecutter.package_name }}.deploy.registry import (
    HISTORY_LENGTH,
    HISTORY_MARK,
    Registry,
    RegistryError,
)
from {{ cookiecutter.package_name }}.deploy.release import gate, git_commit
from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.products import product
from {{ cookiecutter.package_name }}.stages.train import train as train_model

from .conftest import make_params, publish_tiny, small_frame
from .project_data import PROJECT

pytestmark = pytest.mark.machinery


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

    with monkeypatch.context() as patch, pytest.raises(OSError, match="simulated crash"):
        patch.setattr(registry.fs, "pipe_file", crash_on_manifest)
        publish_tiny(registry, mixed_frame)
    assert registry.versions() == [good]
    assert registry.current() == good
    assert publish_tiny(registry, mixed_frame).startswith("0003-"), "numbers are never reused"


def test_a_failed_description_leaves_no_folder_and_none_replaces_a_file(registry) -> None:
    """A card that cannot be made stops the publish before anything is written (its folder
    goes too); a described file may not replace a version's own file or its manifest."""
    files, manifest = {"a.bin": b"a"}, {"sha256": {"a.bin": "unchecked here"}}

    def broken(stored: dict) -> dict:
        raise ValueError("no card")

    with pytest.raises(ValueError, match="no card"):
        registry.publish(files, manifest, "abc1234", described=broken)
    assert not Path(registry.location, "versions", "0001-abc1234").exists()
    for name in ("a.bin", "manifest.json"):
        with pytest.raises(RegistryError, match="would replace"):
            registry.publish(files, manifest, "abc1234", described=lambda m, n=name: {n: b"x"})


def test_crash_mid_promote_leaves_current_valid(registry, mixed_frame, monkeypatch) -> None:
    good = publish_tiny(registry, mixed_frame)
    with monkeypatch.context() as patch, pytest.raises(OSError):
        patch.setattr(Path, "replace", lambda *args: (_ for _ in ()).throw(OSError("crash")))
        publish_tiny(registry, mixed_frame)
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


def code_running_gadget(marker: Path) -> tuple[Pipeline, str]:
    """A pipeline made only of numpy and scikit-learn types that runs a string as code when
    it transforms it (numpy's runstring is `exec`), and a string that creates `marker`."""
    from numpy.testing._private.utils import runstring

    step = FunctionTransformer(func=np.vectorize(runstring), kw_args={"dict": {}})
    return Pipeline([("preprocess", step), ("estimator", FunctionTransformer())]), (
        f"open({str(marker)!r}, 'w').close()"
    )


def test_a_model_that_runs_code_on_load_is_refused_before_it_is_built(
    registry: Registry, mixed_frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Published around `make deploy`'s check, with a manifest that lists its types, the
    gadget is refused on load and its smoke row's code never runs."""
    marker = tmp_path / "executed"
    trial, code = code_running_gadget(marker)
    trial.fit_transform(pd.DataFrame({"code": [code]}))
    assert marker.exists(), "the gadget no longer runs code: the test would prove nothing"
    marker.unlink()
    archive = sio.dumps(code_running_gadget(marker)[0])  # a fresh one: exec fills its dict
    manifest = {
        **registry.manifest(publish_tiny(registry, mixed_frame)),
        "sha256": {bundle.MODEL_FILE: bundle.sha256(archive)},
        "trusted_types": sio.get_untrusted_types(data=archive),
        "features": [{"name": "code", "type": "string", "nullable": False}],
        "smoke": {"rows": [{"code": code}], "predictions": [None]},
        "version": "0002-e0e0e0e",
    }
    folder = f"{registry.base}/versions/0002-e0e0e0e"
    registry.fs.makedirs(folder)
    registry.fs.pipe_file(f"{folder}/{bundle.MODEL_FILE}", archive)
    registry.fs.pipe_file(f"{folder}/manifest.json", json.dumps(manifest).encode())
    registry.promote("0002-e0e0e0e")
    with pytest.raises(BundleError, match=r"outside the allow-list: .*numpy\.vectorize"):
        load(registry, "0002-e0e0e0e")
    assert not marker.exists(), "the archive's code ran"


def test_deploy_refuses_a_model_with_types_outside_the_allow_list(mixed_frame) -> None:
    features = mixed_frame.drop(columns="target")
    model = Pipeline([("scale", FunctionTransformer(np.log1p))]).fit(features[["size"]])
    with pytest.raises(BundleError, match=r"FunctionTransformer.*EXTRA_TRUSTED_TYPES in src/"):
        bundle.build(model, features, b"{}", {})


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("estimator", ["random_forest", "gradient_boosting", "linear"])
def test_the_template_pipelines_are_on_the_allow_list(task: str, estimator: str) -> None:
    """After a scikit-learn upgrade moves a class, this says which name to update."""
    model = train_model(small_frame(task), make_params(task, estimator))
    assert bundle.untrusted(sio.dumps(model)) == []


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
    assert set(manifest["sha256"]) == {bundle.MODEL_FILE, bundle.PROFILE_FILE, GRAPH_FILE}
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


def test_version_ids_are_never_paths(registry: Registry, mixed_frame, tmp_path) -> None:
    """A CURRENT naming a folder outside the registry is refused, as are such arguments."""
    version = publish_tiny(registry, mixed_frame)
    outside = tmp_path / "outside"
    registry.fs.copy(f"{registry.base}/versions/{version}", str(outside), recursive=True)
    (Path(registry.base) / "CURRENT").write_text("../../../outside\n")
    assert registry.fs.exists(f"{registry.base}/versions/../../../outside/manifest.json")
    with pytest.raises(RegistryError, match=r"CURRENT: '\.\./\.\./\.\./outside' is not a"):
        registry.current()
    for call in (registry.manifest, registry.promote, lambda v: registry.read(v, "model.skops")):
        with pytest.raises(RegistryError, match="is not a version id"):
            call("../../../outside")


@pytest.fixture
def project_registry(registry: Registry, monkeypatch) -> Registry:
    """The registry the deploy commands use (MODEL_REGISTRY), with the tiny params."""
    monkeypatch.setenv("MODEL_REGISTRY", registry.location.rsplit("/", 1)[0])
    monkeypatch.setattr(release, "load_params", make_params)
    return registry


def test_rollback_refuses_what_is_not_a_version(project_registry: Registry, mixed_frame) -> None:
    first = publish_tiny(project_registry, mixed_frame)
    second = publish_tiny(project_registry, mixed_frame, n_estimators=5)
    with pytest.raises(RegistryError, match=r"rollback: '\.\./\.\./etc' is not a version id"):
        release.rollback_main(["../../etc"])
    with pytest.raises(SystemExit):
        release.rollback_main(["--force"])
    assert project_registry.current() == second
    release.rollback_main([first])
    assert project_registry.current() == first


def test_rollback_refuses_a_version_that_fails_its_checks(project_registry, mixed_frame):
    """A version whose model file was cut short is refused before the pointer moves, saying
    why; with VERSION= as without."""
    first = publish_tiny(project_registry, mixed_frame)
    second = publish_tiny(project_registry, mixed_frame, n_estimators=5)
    path = f"{project_registry.base}/versions/{first}/{bundle.MODEL_FILE}"
    project_registry.fs.pipe_file(path, project_registry.fs.cat_file(path)[:1000])
    for version in (None, first):
        with pytest.raises(BundleError, match=f"version {first}: model.skops does not match"):
            release.rollback(version=version)
        assert project_registry.current() == second


def test_a_version_folder_copied_under_another_id_is_refused(registry, mixed_frame) -> None:
    """The id served is the folder's: a manifest that says otherwise is refused."""
    first = publish_tiny(registry, mixed_frame)
    registry.fs.copy(
        f"{registry.base}/versions/{first}",
        f"{registry.base}/versions/0009-abc1234",
        recursive=True,
    )
    with pytest.raises(BundleError, match=f"its manifest says it is version '{first}'"):
        bundle.load_version(registry, "0009-abc1234")
    assert bundle.load_version(registry, first).version == first


def test_models_names_a_version_whose_manifest_is_unreadable(
    project_registry: Registry, mixed_frame
) -> None:
    first = publish_tiny(project_registry, mixed_frame)
    second = publish_tiny(project_registry, mixed_frame, n_estimators=5)
    Path(project_registry.base, "versions", first, "manifest.json").write_text("")
    lines = release.models().splitlines()
    assert re.fullmatch(rf"  {first}  unreadable manifest: .*{first}.*", lines[0])
    assert lines[1].startswith(f"* {second}  ")


def test_a_second_writer_waits_for_the_lock(registry: Registry, mixed_frame) -> None:
    """Two deploys at once (two processes, or two Registry objects) run one after the other,
    so they never take the same number."""
    publish_tiny(registry, mixed_frame)
    other = Registry(registry.location.rsplit("/", 1)[0], registry.model)
    published = []
    with registry.lock():
        writer = threading.Thread(
            target=lambda: published.append(other.publish({}, {"metrics": {}}, "bbbbbbb"))
        )
        writer.start()
        writer.join(0.5)
        assert writer.is_alive() and not published, "the second writer did not wait"
        mine = registry.publish({}, {"metrics": {}}, "aaaaaaa")
    writer.join(10)
    assert (mine, *published) == ("0002-aaaaaaa", "0003-bbbbbbb")
    assert registry.versions()[1:] == ["0002-aaaaaaa", "0003-bbbbbbb"]


def test_a_taken_number_is_skipped(registry: Registry, monkeypatch) -> None:
    """A folder another writer made after this one listed the versions is never reused."""
    Path(registry.base, "versions", "0001-abc1234").mkdir(parents=True)
    monkeypatch.setattr(registry, "_numbered", dict)  # a listing from before it was made
    assert registry.publish({}, {"metrics": {}}, "abc1234") == "0002-abc1234"


def test_an_object_store_registry_numbers_and_checks_versions(tmp_path: Path) -> None:
    """No file lock there (one writer at a time is the rule), but numbers still advance past
    every folder, and CURRENT is checked the same way."""
    registry = Registry(f"memory://{tmp_path.name}", "tiny")
    registry.fs.pipe_file(f"{registry.base}/versions/0001-abc1234/model.skops", b"partial")
    with registry.lock():
        version = registry.publish({}, {"metrics": {}}, "abc1234")
    registry.promote(version)
    assert version == registry.current() == "0002-abc1234"
    assert registry.versions() == [version]
    registry.fs.pipe_file(f"{registry.base}/CURRENT", b"../other\n")
    with pytest.raises(RegistryError, match="is not a version id"):
        registry.current()


def empty_versions(registry: Registry, count: int) -> list[str]:
    """Complete versions with nothing in them: enough for the pointers' bookkeeping."""
    return [registry.publish({}, {"metrics": {}}, "abc1234") for _ in range(count)]


def test_each_environment_has_its_own_pointer(registry: Registry) -> None:
    first, second = empty_versions(registry, 2)
    registry.promote(first)
    registry.promote(second, env="staging")
    assert registry.current() == registry.current("production") == first
    assert registry.current("staging") == second
    assert Path(registry.base, "CURRENT").read_text().splitlines()[0] == first
    assert Path(registry.base, "CURRENT.staging").read_text().splitlines()[0] == second
    assert registry.environments() == {"production": first, "staging": second}


def test_rollback_returns_to_what_that_environment_served(registry: Registry) -> None:
    """Production goes 0001 -> 0003 by promotion: its rollback gives 0001, never 0002,
    which only staging served; a second rollback goes further back, not forth again."""
    first, second, third = empty_versions(registry, 3)
    registry.promote(first)
    registry.promote(second, env="staging")
    registry.promote(third, env="staging")
    registry.promote(third)
    assert registry.previous() == first
    assert registry.rollback() == first and registry.current() == first
    with pytest.raises(RegistryError, match=f"production served no version before {first}"):
        registry.rollback()
    assert registry.rollback("staging") == second
    registry.promote(first, env="staging")
    assert registry.rollback("staging") == second


def test_rolling_back_twice_walks_back_the_history(registry: Registry) -> None:
    first, second, third = empty_versions(registry, 3)
    for version in (first, second, third):
        registry.promote(version, env="staging")
    assert registry.rollback("staging") == second
    assert registry.rollback("staging") == first
    assert registry.rollback("staging", third) == third  # a version named: served again
    assert registry.rollback("staging") == first


def test_the_history_is_bounded(registry: Registry) -> None:
    versions = empty_versions(registry, HISTORY_LENGTH + 5)
    for version in versions:
        registry.promote(version)
    lines = Path(registry.base, "CURRENT").read_text().splitlines()
    assert lines[0] == versions[-1] and lines[2:] == versions[-2::-1][:HISTORY_LENGTH]


def test_a_one_line_current_from_before_environments_still_works(registry: Registry) -> None:
    """Without a history, rolling back takes the version published before, as it did."""
    first, second, third = empty_versions(registry, 3)
    Path(registry.base, "CURRENT").write_text(f"{third}\n")
    assert registry.current() == third and registry.environments() == {"production": third}
    assert registry.rollback() == second
    assert registry.rollback() == first
    registry.promote(third)
    assert registry.rollback() == first  # from now on, what it served


def test_environment_names_are_never_paths(registry: Registry, monkeypatch) -> None:
    """An environment name is only ever the end of a pointer's file name."""
    (version,) = empty_versions(registry, 1)
    calls = (
        registry.current,
        registry.previous,
        registry.rollback,
        lambda env: registry.promote(version, env=env),
    )
    for call in calls:
        for name in ("../x", "Staging", "", "a/b"):
            with pytest.raises(RegistryError, match="is not an environment name"):
                call(name)
    assert not list(Path(registry.base).parent.glob("x*"))
    Path(registry.base, "CURRENT.Not_a_name").write_text(f"{version}\n")
    assert registry.environments() == {"production": None}
    monkeypatch.setenv("DEPLOY_ENV", "../x")
    with pytest.raises(RegistryError, match=r"DEPLOY_ENV: '\.\./x' is not an environment name"):
        release.environment()


def test_a_pointer_naming_no_version_is_repaired_by_a_promotion(registry: Registry) -> None:
    first, second = empty_versions(registry, 2)
    pointer = Path(registry.base, "CURRENT.staging")
    pointer.write_text(f"{first}\n{HISTORY_MARK}\n..\n")
    with pytest.raises(RegistryError, match=r"CURRENT\.staging: '\.\.' is not a version id"):
        registry.previous("staging")
    assert registry.current("staging") == first  # the first line is all a server reads
    registry.promote(second, env="staging")
    assert registry.current("staging") == second


def staging_ahead(registry: Registry, frame: pd.DataFrame) -> tuple[str, str]:
    """Production serves a first version, staging a second."""
    first = publish_tiny(registry, frame)
    second = publish_tiny(registry, frame, n_estimators=5)
    registry.rollback()
    registry.promote(second, env="staging")
    return first, second


def test_promote_points_the_target_at_the_very_version(
    project_registry: Registry, mixed_frame, capsys
) -> None:
    first, second = staging_ahead(project_registry, mixed_frame)
    files = {name: project_registry.read(second, name) for name in ("model.skops", "manifest.json")}
    release.promote_main(["staging", "production"])
    said = capsys.readouterr().out
    assert f"promoted version {second} from staging to production" in said
    assert "no retraining" in said
    assert project_registry.current() == project_registry.current("staging") == second
    assert project_registry.versions() == [first, second], "nothing was published"
    assert {name: project_registry.read(second, name) for name in files} == files
    assert project_registry.rollback() == first


def test_promote_refuses_what_it_cannot_promote(project_registry: Registry, mixed_frame) -> None:
    with pytest.raises(PipelineError, match=r"staging serves no version .* DEPLOY_ENV=staging"):
        release.promote("staging", "production")
    first, second = staging_ahead(project_registry, mixed_frame)
    with pytest.raises(PipelineError, match="FROM and TO are both staging"):
        release.promote("staging", "staging")
    with pytest.raises(RegistryError, match=r"TO: '\.\./x' is not an environment name"):
        release.promote("staging", "../x")
    model = Path(project_registry.base, "versions", second, bundle.MODEL_FILE)
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(BundleError, match="sha256"):
        release.promote("staging", "production")
    assert project_registry.current() == first


def test_promote_with_a_version_refuses_a_source_that_moved_on(
    project_registry: Registry, mixed_frame, capsys
) -> None:
    first, second = staging_ahead(project_registry, mixed_frame)
    with pytest.raises(PipelineError, match=f"staging serves version {second}, not {first}"):
        release.promote("staging", "production", first)
    with pytest.raises(RegistryError, match=r"VERSION: '\.\./x' is not a version id"):
        release.promote("staging", "production", "../x")
    assert project_registry.current() == first
    release.models_main(["--served-by", "staging"])
    assert capsys.readouterr().out == f"{second}\n"
    release.promote_main(["staging", "production", "--version", second])
    assert project_registry.current() == second
    with pytest.raises(PipelineError, match="review serves no version yet"):
        release.models_main(["--served-by", "review"])


def test_models_shows_which_environment_serves_which_version(
    project_registry: Registry, mixed_frame
) -> None:
    first, second = staging_ahead(project_registry, mixed_frame)
    lines = release.models().splitlines()
    assert lines[0].startswith(f"* {first}  ") and lines[0].endswith("  [production]")
    assert lines[1].startswith(f"  {second}  ") and lines[1].endswith("  [staging]")
    assert lines[-2:] == [f"production: {first}", f"staging: {second}"]
    release.promote("staging", "production")
    assert release.models().splitlines()[1].endswith("  [production, staging]")


def test_the_gate_says_what_production_serves() -> None:
    production = {"version": "0001-x", "metrics": {"accuracy": 0.9}}
    said = gate({"accuracy": 0.95}, make_params(), production)
    assert said == "gate passed: accuracy=0.9500 against production version 0001-x (0.9000)"
    assert "production serves no version yet" in gate({"accuracy": 0.95}, make_params(), None)


def test_rollback_to_the_version_served_says_nothing_changed(
    project_registry: Registry, mixed_frame
) -> None:
    first, _ = staging_ahead(project_registry, mixed_frame)
    assert release.rollback("production", first) == (
        f"production already serves version {first}, nothing rolled back"
    )


def test_a_pointer_that_is_a_folder_is_refused_in_one_line(project_registry, caplog) -> None:
    (version,) = empty_versions(project_registry, 1)
    Path(project_registry.base, "CURRENT").mkdir()
    with pytest.raises(RegistryError, match=r"/CURRENT is a folder - remove it"):
        project_registry.current()
    assert "production: serves no version" in release.models()
    assert "tiny/CURRENT is a folder" in caplog.text
    with pytest.raises(RegistryError, match=r"/CURRENT is a folder - remove it"):
        project_registry.promote(version)


def test_the_server_refuses_a_folder_pointer_and_keeps_serving(registry, mixed_frame) -> None:
    holder = pytest.importorskip("{{ cookiecutter.package_name }}.serve.holder")
    version = publish_tiny(registry, mixed_frame)
    served = holder.ModelHolder(registry)
    assert served.sync() == version
    pointer = Path(registry.base, "CURRENT")
    pointer.unlink()
    pointer.mkdir()
    assert served.sync() == version
    assert "CURRENT is a folder" in served.refused["reason"]


def test_a_pointer_that_is_a_fifo_is_refused_without_waiting(project_registry, caplog) -> None:
    """Reading a FIFO waits for a writer: `make models` (and a server's poll) never does."""
    (version,) = empty_versions(project_registry, 1)
    project_registry.promote(version)
    os.mkfifo(Path(project_registry.base, "CURRENT.staging"))
    listed: list[str] = []
    models = threading.Thread(target=lambda: listed.append(release.models()), daemon=True)
    models.start()
    models.join(timeout=20)
    assert listed, "make models waited on the FIFO"
    assert listed[0].splitlines()[-1] == "staging: serves no version"
    assert "CURRENT.staging is not a regular file" in caplog.text


def test_a_pointer_of_megabytes_is_refused_without_reading_it(registry: Registry) -> None:
    """A pointer is read on every poll of every server: one of 300 MB is refused, not read."""
    (version,) = empty_versions(registry, 1)
    with Path(registry.base, "CURRENT").open("wb") as pointer:
        pointer.write(f"{version}\n".encode())
        pointer.truncate(300 * 2**20)  # sparse: no disk taken
    started = time.monotonic()
    with pytest.raises(RegistryError, match="/CURRENT is larger than 64 KB, so not a pointer"):
        registry.current()
    assert time.monotonic() - started < 1


def test_deploy_names_the_columns_a_stage_made_or_dropped(tmp_path, monkeypatch, caplog) -> None:
    """A model whose inputs are not the ingested columns (a stage before train changed them):
    deploy says which columns clients must now send, and which they must leave out."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(PROJECT / "dvc.yaml", tmp_path)
    raw = product("raw")
    raw.parent.mkdir(parents=True)
    small_frame().to_parquet(raw)
    model = SimpleNamespace(feature_names_in_=np.array(["size", "count", "size_per_count"]))
    release.warn_of_stage_columns(model, make_params())
    assert (
        "the model takes column(s) data.source does not have: size_per_count - a stage made "
        "them, so every client (server, make predict, make monitor) must send them"
    ) in caplog.text
    assert (
        "data.source has column(s) the model does not take: colour - a stage dropped them, "
        "so clients must leave them out"
    ) in caplog.text
