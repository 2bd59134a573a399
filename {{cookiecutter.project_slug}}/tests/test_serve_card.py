"""GET /model/card: the served version's card, as Markdown or as a page with nothing active."""

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import publish_tiny
from .test_card import publish_with_card

pytestmark = pytest.mark.machinery

HOSTILE = "<script>alert(1)</script> [x](javascript:alert(2))"


def serving(registry: Registry) -> TestClient:
    root = str(registry.location.rsplit("/", 1)[0])
    return TestClient(create_app(Settings(MODEL_REGISTRY=root, model_name="tiny")))


@pytest.fixture
def about(tmp_path):
    path = tmp_path / "model.md"
    path.write_text(f"## Intended use\n\n{HOSTILE}\n\n<img src=x onerror=alert(3)>\n")
    return path


def test_the_card_is_served_as_markdown_and_as_a_page(
    registry: Registry, mixed_frame: pd.DataFrame, about
) -> None:
    frame = mixed_frame.rename(columns={"colour": "<i>colour</i>"})
    version = publish_with_card(registry, frame, about)
    with serving(registry) as client:
        answer = client.get("/model/card")
        assert answer.status_code == 200 and answer.headers["x-model-version"] == version
        assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
        assert answer.text.startswith(f"# Model card: tiny {version}")
        page = client.get("/model/card", params={"format": "html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script" not in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assert f"<h1>Model card: tiny {version}</h1>" in page.text
        for tag in ("<script", "<img", "<i>", 'href="javascript'):  # all shown as text
            assert tag not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "&lt;i&gt;colour&lt;/i&gt;" in page.text
        assert client.get("/model/card", params={"format": "pdf"}).status_code == 422


def test_a_version_without_a_card_answers_404(registry: Registry, mixed_frame) -> None:
    version = publish_tiny(registry, mixed_frame)
    with serving(registry) as client:
        answer = client.get("/model/card")
        assert answer.status_code == 404 and f"version {version} has no model card" in answer.text


@pytest.mark.parametrize("card", [None, True])
def test_beyond_loopback_the_card_needs_the_admin_token_unless_published(
    registry: Registry, mixed_frame: pd.DataFrame, about, card: bool | None
) -> None:
    """It names the data source, params and the data's profile, as the admin-only manifest
    does: SERVE_CARD=true publishes it."""
    publish_with_card(registry, mixed_frame, about)
    root = str(registry.location.rsplit("/", 1)[0])
    token = "a-token-of-thirty-two-characters"
    settings = Settings(
        MODEL_REGISTRY=root, model_name="tiny", host="0.0.0.0", admin_token=token, card=card
    )
    with TestClient(create_app(settings)) as client:
        anyone = client.get("/model/card")
        assert anyone.status_code == (200 if card else 401)
        assert client.get("/model/card", headers={"Authorization": "Bearer wrong"}).status_code == (
            200 if card else 403
        )
        admin = client.get("/model/card", headers={"Authorization": f"Bearer {token}"})
        assert admin.status_code == 200
