"""Markdown written by people, shown to others: rendered on the server without raw HTML, then passed
through an allow-list sanitiser (nh3), so no stored text can carry a script, a style or a handler."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener noreferrer"


def sanitised_html(html: str, tags: set[str], attributes: dict[str, set[str]]) -> str:
    """Keep only the allowed tags and attributes; links get safe schemes and `rel`."""
    return nh3.clean(html, tags=tags, attributes=attributes, url_schemes=URL_SCHEMES, link_rel=LINK_REL)


def render(parser: MarkdownIt, source: str, tags: set[str], attributes: dict[str, set[str]]) -> str:
    return sanitised_html(parser.render(source), tags, attributes)
