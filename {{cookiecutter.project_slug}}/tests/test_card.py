"""The model card: what it says about a version, that it is checksummed with it, and where
`make models`, `make promote` and the pull-request report show it."""

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.deploy import bundle, card, release
from {{ cookiecutter.package_name }}.deploy.registry import Registry

from .conftest import make_params, publish_tiny, tiny_bundle

pytestmark = pytest.mark.machinery

ABOUT = """# The model

A note the card leaves out.

## Intended use

Ranking leads for the sales team.

## Limitations

Never seen customers outside Europe.
"""
PLOTS = {
    "confusion.csv": pd.DataFrame({"actual": [0, 0, 1, 1, 1], "predicted": [0, 1, 1, 1, 1]}),
    "importance.csv": pd.DataFrame({"feature": ["size", "colour"], "importance": [0.3, 0.1]}),
    "roc.csv": pd.DataFrame({"fpr": [0, 0.5, 1], "tpr": [0, 0.9, 1]}),
}


def publish_with_card(registry: Registry, frame: pd.DataFrame, about: Path, **facts) -> str:
    """Publish the tiny model as `make deploy` does, its card rendered from the stored
    manifest, and promote it; return the version."""
    params = make_params()
    files, manifest = tiny_bundle(frame, params)
    manifest = {
        **copy.deepcopy(manifest),
        "params": params.model_dump(),
        "git_commit": "abc1234",
        "data_md5": "0123456789abcdef0123456789abcdef",
        "gate": "gate passed: accuracy=0.9000 (production serves no version yet)",
        **facts,
    }
    profile = json.loads(files[bundle.PROFILE_FILE])

    def described(stored: dict) -> dict[str, bytes]:
        return {card.CARD_FILE: card.render(stored, profile, PLOTS, card.about(about)).encode()}

    version = registry.publish(files, manifest, "abc1234", described)
    registry.promote(version)
    return version


@pytest.fixture
def about(tmp_path: Path) -> Path:
    path = tmp_path / "model.md"
    path.write_text(ABOUT, encoding="utf-8")
    return path


def test_the_card_says_what_the_version_is(registry, mixed_frame, about) -> None:
    version = publish_with_card(registry, mixed_frame, about)
    text = registry.read(version, card.CARD_FILE).decode()
    assert text.startswith(f"# Model card: tiny {version}\n")
    for line in (
        f"| version | {version} |",
        "| commit | abc1234 |",
        "- Source (params.yaml data.source): memory",
        "- Its DVC hash in dvc.lock: 0123456789abcdef0123456789abcdef",
        "| size | number | yes |   |",  # the schema: missing values were in training
        "| colour | string | yes | blue, green, red |",
        "| accuracy | 0.9 |",
        "gate passed: accuracy=0.9000 (production serves no version yet)",
        "| actual / predicted | 0 | 1 |",
        "| 1 | 0 | 3 |",  # the confusion matrix from the plot's rows
        "| size | 0.3 |",
        "Curves, in reports/plots (`dvc plots show` draws them): roc.csv (3 points).",
        "    n_estimators: 10",  # the params, as YAML
    ):
        assert line in text.splitlines(), line
    assert "Training rows: 80; input columns: 3; target: target" in text
    assert "| count | numeric | 0.0% | mean " in text  # the drift reference
    manifest = registry.manifest(version)
    assert f"sha256 {manifest['derive_hash']}" in text
    # docs/model.md from its first section on, word for word.
    assert text.endswith(ABOUT[ABOUT.index("## Intended use") :])
    assert "A note the card leaves out" not in text


def test_the_card_is_checksummed_with_the_version(registry, mixed_frame, about) -> None:
    version = publish_with_card(registry, mixed_frame, about)
    manifest = registry.manifest(version)
    written = registry.read(version, card.CARD_FILE)
    assert manifest["sha256"][card.CARD_FILE] == bundle.sha256(written)
    assert bundle.load_version(registry, version).files[card.CARD_FILE] == written
    assert card.stored(registry, version) == written.decode()
    Path(registry.base, "versions", version, card.CARD_FILE).write_bytes(written + b"edited")
    with pytest.raises(bundle.BundleError, match=r"card\.md does not match its sha256"):
        bundle.load_version(registry, version)
    with pytest.raises(bundle.BundleError, match=r"card\.md does not match its sha256"):
        card.stored(registry, version)


def test_names_from_the_data_stay_text(registry, mixed_frame, about) -> None:
    hostile = "<b>x</b> | [y](javascript:alert(1)) *z*"
    frame = mixed_frame.rename(columns={"colour": hostile})
    text = registry.read(publish_with_card(registry, frame, about), card.CARD_FILE).decode()
    escaped = "\\<b\\>x\\</b\\> \\| \\[y\\](javascript:alert(1)) \\*z\\*"
    assert f"| {escaped} | string | yes | blue, green, red |" in text.splitlines()
    assert hostile not in text


def test_a_missing_docs_page_is_said_in_the_card(tmp_path, caplog) -> None:
    said = card.intended_use(tmp_path / "model.md")
    assert "Not stated" in said and "is missing" in caplog.text
    (tmp_path / "model.md").write_text("## Intended use\n\n(fill in: who uses it)\n")
    assert card.intended_use(tmp_path / "model.md").startswith("## Intended use")
    assert "still has placeholders" in caplog.text


@pytest.fixture
def project_registry(registry: Registry, monkeypatch) -> Registry:
    """The registry the deploy commands use (MODEL_REGISTRY), with the tiny params."""
    monkeypatch.setenv("MODEL_REGISTRY", registry.location.rsplit("/", 1)[0])
    monkeypatch.setattr(release, "load_params", make_params)
    return registry


def test_models_promote_and_the_report_name_the_card(
    project_registry: Registry, mixed_frame, about, capsys
) -> None:
    older = publish_tiny(project_registry, mixed_frame)  # deployed before cards
    assert "model card" not in release.models()
    assert "deployed before cards were" in release.card_link("production")
    version = publish_with_card(project_registry, mixed_frame, about)
    where = project_registry.where(version, card.CARD_FILE)
    assert release.models().splitlines()[-1] == f"production's model card: {where}"
    assert f"its model card: `{where}`." in release.card_link("production")
    project_registry.promote(older, env="staging")
    assert "has no model card" in release.promote("staging", "review")
    project_registry.promote(version, env="staging")
    said = release.promote("staging", "review")
    assert f"its model card, {where}:" in said and said.endswith(ABOUT.split("\n## ", 1)[1])
    release.card_main(["--env", "review"])
    assert capsys.readouterr().out == card.stored(project_registry, version)
