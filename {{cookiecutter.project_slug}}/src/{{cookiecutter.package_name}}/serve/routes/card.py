"""GET /model/card: the served version's model card (card.md, written by `make deploy`).

The card names the data source, the params and the data's profile, which the manifest keeps
behind the admin token: beyond loopback it needs that token too, unless SERVE_CARD=true
publishes it.
"""

from functools import lru_cache
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Response

from ...deploy.card import CARD_FILE, missing
from ..card_page import HEADERS, page
from ..dependencies import ServedDep, SettingsDep, require_admin

router = APIRouter(tags=["model"])


@lru_cache(maxsize=4)
def html_page(card: bytes, title: str) -> str:
    """The card's page, rendered once per version (a card never changes within one)."""
    return page(card.decode(), title)


@router.get(
    "/model/card",
    response_class=Response,
    responses={
        200: {"content": {"text/markdown": {}, "text/html": {}}, "description": "the card"},
        401: {"description": "beyond loopback without SERVE_CARD=true: no admin token"},
        403: {"description": "a wrong admin token"},
        404: {"description": "the version was deployed before cards were"},
        503: {"description": "no model is loaded yet"},
    },
)
async def model_card(
    served: ServedDep,
    settings: SettingsDep,
    format: Literal["markdown", "html"] = "markdown",
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """The served version's model card: Markdown, or with format=html a page to read in a
    browser. It was checked against the version's manifest when the version was loaded."""
    if not settings.card_public:
        await require_admin(settings, authorization)
    card = served.loaded.files.get(CARD_FILE)
    if card is None:
        raise HTTPException(404, detail=missing(served.version))
    headers = {**HEADERS, "X-Model-Version": served.version}
    if format == "html":
        title = f"Model card {served.loaded.manifest.get('name')} {served.version}"
        return Response(html_page(card, title), media_type="text/html", headers=headers)
    return Response(card, media_type="text/markdown; charset=utf-8", headers=headers)
