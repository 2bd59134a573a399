"""A model card as an HTML page (GET /model/card?format=html).

The card holds text from the data, params.yaml and docs/model.md: everything is escaped.
markdown-it renders it with raw HTML off (tags show as text) and refuses javascript: and
similar links; the page's Content-Security-Policy then allows no script, frame, form or
fetch at all, and only the page's own style sheet.
"""

import base64
import hashlib
import html

from markdown_it import MarkdownIt

# js-default: CommonMark with tables, raw HTML off.
RENDERER = MarkdownIt("js-default")
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
    "padding:.2rem .5rem;text-align:left}pre{background:#f4f4f4;padding:.5rem;overflow:auto}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
POLICY = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; sandbox"
)
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"}


def page(card: str, title: str) -> str:
    """The card as a whole HTML document titled `title` (escaped here)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{RENDERER.render(card)}</body>\n</html>\n"
    )
