"""GET /model/card: the served version's model card (card.md, written by `make deploy`)."""

from typing import Literal

from fastapi import APIRouter, HTTPException, Response

from ...deploy.card import CARD_FILE
from ..card_page import HEADERS, page
from ..dependencies import ServedDep

router = APIRouter(tags=["model"])


@router.get(
    "/model/card",
    response_class=Response,
    responses={
        200: {"content": {"text/markdown": {}, "text/html": {}}, "description": "the card"},
        404: {"description": "the version was deployed before cards were"},
        503: {"description": "no model is loaded yet"},
    },
)
async def model_card(
    served: ServedDep, format: Literal["markdown", "html"] = "markdown"
) -> Response:
    """The served version's model card: Markdown, or with format=html a page to read in a
    browser. It was checked against the version's manifest when the version was loaded."""
    card = served.loaded.files.get(CARD_FILE)
    if card is None:
        raise HTTPException(
            404, detail=f"version {served.version} has no model card: it was deployed before cards"
        )
    headers = {**HEADERS, "X-Model-Version": served.version}
    if format == "html":
        title = f"Model card {served.loaded.manifest.get('name')} {served.version}"
        return Response(page(card.decode(), title), media_type="text/html", headers=headers)
    return Response(card, media_type="text/markdown; charset=utf-8", headers=headers)
