"""A server follows one environment (DEPLOY_ENV), and `smoke` checks a real one (the
template's slow tests run `make smoke` with the server it starts itself)."""

import socket
import threading
import time

import pandas as pd
import pytest
import uvicorn

from {{ cookiecutter.package_name }}.deploy import smoke
from {{ cookiecutter.package_name }}.deploy.registry import Registry, RegistryError
from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.holder import ModelHolder
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import make_params, publish_tiny

pytestmark = pytest.mark.machinery


def test_deploy_env_is_a_setting(monkeypatch) -> None:
    assert Settings().deploy_env == "production"
    monkeypatch.setenv("DEPLOY_ENV", "staging")
    assert Settings().deploy_env == "staging"
    monkeypatch.setenv("DEPLOY_ENV", "")
    assert Settings().deploy_env == "production"
    monkeypatch.setenv("DEPLOY_ENV", "../x")
    with pytest.raises(RegistryError, match=r"DEPLOY_ENV: '\.\./x' is not an environment name"):
        Settings()


@pytest.fixture
def environments(registry: Registry, mixed_frame: pd.DataFrame, monkeypatch) -> tuple[str, str]:
    """Production serves a first version, staging a second; the commands use this registry."""
    first = publish_tiny(registry, mixed_frame)
    second = publish_tiny(registry, mixed_frame, n_estimators=5)
    registry.rollback()
    registry.promote(second, env="staging")
    monkeypatch.setenv("MODEL_REGISTRY", registry.location.rsplit("/", 1)[0])
    monkeypatch.delenv("DEPLOY_ENV", raising=False)
    monkeypatch.setattr(smoke, "load_params", make_params)
    return first, second


def test_a_holder_follows_its_environment(registry: Registry, environments) -> None:
    first, second = environments
    assert ModelHolder(registry).sync() == first
    staging = ModelHolder(registry, env="staging")
    assert staging.sync() == second
    registry.promote(first, env="staging")
    assert staging.sync() == first
    with pytest.raises(RegistryError, match="not an environment name"):
        ModelHolder(registry, env="../x")


@pytest.fixture
def production_server(registry: Registry, environments):
    """A real uvicorn on a loopback port serving production (its next look at the registry
    a minute away)."""
    settings = Settings(
        MODEL_REGISTRY=registry.location.rsplit("/", 1)[0], model_name="tiny", poll_interval=60
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings), log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def test_smoke_checks_the_server_at_a_url(production_server: str, environments) -> None:
    first, second = environments
    said = smoke.smoke(url=production_server + "/")  # a trailing slash is fine
    served = f"{production_server} serves version {first}, 5 smoke rows predicted"
    assert said == f"smoke passed: {served}"
    # Staging's version is not what this server serves: refused once the wait is over.
    with pytest.raises(PipelineError, match=f"answered 200 .*{first}.* not version {second}"):
        smoke.smoke("staging", production_server, wait=1)
    with pytest.raises(PipelineError, match="must start with http:// or https://"):
        smoke.smoke(url="127.0.0.1:1")


def test_smoke_refuses_an_environment_that_serves_nothing(environments) -> None:
    with pytest.raises(PipelineError, match=r"qa serves no version .* make deploy DEPLOY_ENV=qa"):
        smoke.smoke("qa")
