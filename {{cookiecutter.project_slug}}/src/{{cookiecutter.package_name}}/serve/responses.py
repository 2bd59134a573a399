"""Fast JSON in and out: orjson parses and writes bodies several times faster than json."""

import orjson
from fastapi import Request, Response

from .inputs import InputError


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


async def read_json(request: Request) -> object:
    """The parsed body, or InputError for malformed JSON."""
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise InputError(f"the body is not valid JSON: {error}") from None
