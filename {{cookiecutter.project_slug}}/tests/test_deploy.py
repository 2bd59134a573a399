"""`deploy` per environment, on the products of the pipeline run on small data: staging
first, production left alone, then the same version promoted."""

import logging
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.deploy import release
from {{ cookiecutter.package_name }}.deploy.registry import Registry, RegistryError

from .test_pipeline import (
    lenient_params,
    pipeline,  # noqa: F401 - the pipeline's products, made once
)

pytestmark = pytest.mark.project_data


@pytest.fixture
def deploying(pipeline: Path, tmp_path: Path, monkeypatch) -> Registry:  # noqa: F811
    """In the pipeline's folder, with a registry of its own and a gate any model passes."""
    monkeypatch.chdir(pipeline)
    lenient = lenient_params()
    monkeypatch.setattr(release, "load_params", lambda: lenient)
    monkeypatch.setenv("MODEL_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.delenv("DEPLOY_ENV", raising=False)
    return release.registry(lenient)


def test_deploy_to_staging_leaves_production_alone(deploying: Registry, caplog) -> None:
    caplog.set_level(logging.INFO)
    said = release.deploy("staging")
    version = deploying.current("staging")
    assert said == f"deployed version {version} to staging in {deploying.location}"
    assert deploying.current() is None
    assert "production serves no version yet" in caplog.text
    unchanged = f"model unchanged: staging already serves it as version {version}"
    assert release.deploy("staging").startswith(unchanged)
    assert "no retraining" in release.promote("staging", "production")
    assert deploying.current() == version and deploying.versions() == [version]


def test_deploy_env_names_the_environment(deploying: Registry, monkeypatch) -> None:
    monkeypatch.setenv("DEPLOY_ENV", "qa")
    release.deploy()
    assert set(deploying.environments()) == {"production", "qa"}
    assert deploying.current() is None
    monkeypatch.setenv("DEPLOY_ENV", "../qa")
    with pytest.raises(RegistryError, match=r"DEPLOY_ENV: '\.\./qa' is not an environment name"):
        release.deploy()
{%- if cookiecutter.serving == "none" %}


def test_smoke_without_a_server_says_so_and_loads_the_version(deploying: Registry) -> None:
    from {{ cookiecutter.package_name }}.deploy import smoke

    release.deploy("staging")
    said = smoke.smoke("staging")
    assert said.startswith("no server to check: this project has none (baked with serving=none)")
    assert deploying.current("staging") in said
{%- endif %}
