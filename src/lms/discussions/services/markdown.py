"""Post bodies: CommonMark rendered on the server, then an allow-list sanitiser, so no stored post can
carry a script, a style or an event handler; and the @mentions a body names."""

from __future__ import annotations

import re
from functools import cache

from markdown_it import MarkdownIt

from lms.lib.markdown import sanitised_html

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "hr", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9._-]{0,63})")


@cache
def _parser() -> MarkdownIt:
    # "js-default": CommonMark without raw HTML; linkify off (no dependency); headings are demoted below.
    return MarkdownIt("js-default").disable(["image"])


def render_markdown(source: str) -> str:
    """Safe HTML for a post body."""
    html = _parser().render(source)
    # A post's headings sit under the page's own: h1/h2 become h3, h3+ become h4.
    html = re.sub(r"<(/?)h[12]>", r"<\1h3>", html)
    html = re.sub(r"<(/?)h[56]>", r"<\1h4>", html)
    return sanitised_html(html, ALLOWED_TAGS, ALLOWED_ATTRIBUTES)


def mentioned_handles(source: str) -> set[str]:
    """The handles (e-mail local parts) a body mentions, lower-cased; code spans count too (rare, harmless)."""
    return {match.group(1).lower().rstrip(".") for match in MENTION.finditer(source)}
