"""The edge rule every route shares: refuse what the database cannot hold before a handler sees it.

PostgreSQL text cannot hold NUL, and no string may carry invalid UTF-8 (a lone surrogate once
decoded). Query, path, header and cookie values are checked on every request; JSON and form bodies
are read once (up to the route's size limit, 413 past it), checked, and handed on unchanged. Which
bodies are JSON is the route's `data` parameter's say, not the client's Content-Type (Litestar
decodes JSON `data` from any body). A JSON body is also refused when nested deeper than
MAX_JSON_DEPTH, before any parser recurses into it.
The common case costs a few C-level byte scans; the slow path that names the field runs only when a
scan finds a suspect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_to_bytes

from litestar.enums import RequestEncodingType, ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

from lms.lib.errors import TooLarge, ValidationFailed
from lms.lib.headers import header_value

MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 1024 * 1024
# Route `opt` keys: a route's own JSON size limit, and a route whose own typed decoder bounds
# nesting and applies the string rule item by item (progress ingest: one bad event must not sink
# its batch, and the hottest route should not pay for the scans twice).
MAX_JSON_BYTES_OPT = "max_json_bytes"
JSON_CHECKED_BY_HANDLER_OPT = "json_checked_by_handler"

NUL_MESSAGE = "must not contain NUL characters"
UTF8_MESSAGE = "must be valid UTF-8"

_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# A JSON escape that decodes to NUL or to half of a surrogate pair: worth a closer look.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_NOT_STRUCTURAL = bytes(set(range(256)) - set(b'[]{}"'))
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_BODILESS = {"GET", "HEAD", "OPTIONS"}


def string_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    if value.isascii() and "\x00" not in value:  # isascii is a flag lookup on str
        return None
    match = _BAD_CHARACTER.search(value)
    if match is None:
        return None
    return NUL_MESSAGE if match.group() == "\x00" else UTF8_MESSAGE


def check_string(value: str, field: str) -> None:
    if (problem := string_problem(value)) is not None:
        raise ValidationFailed(problem, field=field)


# --- JSON ----------------------------------------------------------------------------------------


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON text nests arrays/objects deeper than `limit` (brackets in strings don't
    count). Only C-level byte operations, a few per level: escapes go, then everything but quotes
    and brackets, then the strings between quotes; each pass after that removes the innermost pairs."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = b"".join(unescaped.translate(_BRACKETS_ONLY, _NOT_STRUCTURAL).split(b'"')[::2])
    for _ in range(limit):
        if b"[]" not in structure:
            break
        structure = structure.replace(b"[]", b"")
    # Pairs left after `limit` passes are deeper; so are more than `limit` unclosed openers (a
    # truncated body still makes a parser recurse before it notices).
    return b"[]" in structure or structure.count(b"[") > limit


def json_string_problem(body: bytes) -> tuple[str, str] | None:
    """(field path, message) of the first string in a JSON text that cannot be stored, or None.

    Malformed JSON is not this check's business (the route's parser answers for it)."""
    try:
        if not body.isascii():
            body.decode("utf-8")
        suspect = b"\x00" in body or _SUSPECT_ESCAPE.search(body) is not None
    except UnicodeDecodeError:
        suspect = True
    if not suspect:
        return None
    try:
        # Python's parser keeps raw control characters and lone surrogates, so the walk can name them.
        value = json.loads(body.decode("utf-8", "surrogateescape"), strict=False)
    except (ValueError, RecursionError):
        return None
    return next(_bad_strings(value), None)


def _bad_strings(value: Any) -> Iterator[tuple[str, str]]:
    """Walk a decoded JSON value (bounded depth: checked before) yielding (path, message)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if (problem := string_problem(item)) is not None:
                yield path or "body", problem
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                child_path = f"{path}.{key}" if path else str(key)
                if (problem := string_problem(key)) is not None:
                    yield (path or "body"), f"keys {problem}"
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in reversed(list(enumerate(item))))


def check_json_body(body: bytes) -> None:
    if json_depth_exceeds(body):
        raise ValidationFailed(f"JSON must not be nested deeper than {MAX_JSON_DEPTH} levels", field="body")
    if (found := json_string_problem(body)) is not None:
        raise ValidationFailed(found[1], field=found[0])


# --- query, path, headers, cookies, forms -------------------------------------------------------


def check_pairs(encoded: bytes, where: str) -> None:
    """`a=1&b=2` (a query string or a form body): each name and value must be storable text."""
    if not encoded or (b"%" not in encoded and b"\x00" not in encoded and encoded.isascii()):
        return
    text = encoded.decode("latin-1")
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="surrogateescape"):
        if string_problem(name) is not None:
            raise ValidationFailed(f"parameter names {string_problem(name)}", field=where)
        check_string(value, name)


def check_path(scope: Scope) -> None:
    raw = (scope.get("raw_path") or b"").split(b"?", 1)[0]  # some servers leave the query on it
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(UTF8_MESSAGE, field=_bad_path_param(scope) or "path") from None
    if (problem := string_problem(scope["path"])) is not None:
        raise ValidationFailed(problem, field=_bad_path_param(scope) or "path")


def _bad_path_param(scope: Scope) -> str | None:
    for name, value in (scope.get("path_params") or {}).items():
        if isinstance(value, str) and string_problem(value) is not None:
            return str(name)
    return None


def check_headers(scope: Scope) -> None:
    for name, value in scope["headers"]:
        if b"\x00" in value:
            raise ValidationFailed(NUL_MESSAGE, field=name.decode("latin-1"))
        if name == b"cookie" and b"%" in value:
            for part in value.decode("latin-1").split(";"):
                cookie, _, cookie_value = part.strip().partition("=")
                check_string(unquote(cookie_value, errors="surrogateescape"), cookie or "cookie")


# --- the middleware ------------------------------------------------------------------------------


def _content_type(scope: Scope) -> str:
    return header_value(scope, b"content-type").split(";", 1)[0].strip().lower()


def _body_kind(scope: Scope) -> str | None:
    """How the route will read the body: "json", "form", "sniff" (JSON if it looks like it) or None.

    A handler's `data` decides, whatever the Content-Type says (Litestar decodes JSON `data` from
    any body); a handler that reads the body itself is judged by the Content-Type."""
    handler = scope.get("route_handler")
    data = handler.parsed_fn_signature.parameters.get("data") if handler is not None else None
    if data is not None:
        encoding = getattr(data.kwarg_definition, "media_type", None) or RequestEncodingType.JSON
        if encoding == RequestEncodingType.URL_ENCODED:
            return "form"
        return "json" if encoding == RequestEncodingType.JSON else None
    content_type = _content_type(scope)
    if content_type == "application/json" or content_type.endswith("+json"):
        return "json"
    if content_type == "application/x-www-form-urlencoded":
        return "form"
    return "sniff" if content_type in ("", "text/plain") else None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise TooLarge(f"the body must not exceed {limit} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body must not exceed {limit} bytes", field="body")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body on once, then defers to the server."""
    pending = True

    async def replayed() -> ReceiveMessage:
        nonlocal pending
        if pending:
            pending = False
            event: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
            return event
        return await receive()

    return replayed


def edge_middleware(app: ASGIApp) -> ASGIApp:
    """Apply the edge rule to every HTTP request, anonymous or not, before any other middleware
    that reads input (the tenant lookup by host) or the handler."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        check_path(scope)
        check_pairs(scope["query_string"], "query")
        check_headers(scope)
        if scope.get("method") in _BODILESS or (kind := _body_kind(scope)) is None:
            await app(scope, receive, send)
            return
        handler = scope.get("route_handler")
        opt = handler.opt if handler is not None else {}
        limit = int(opt.get(MAX_JSON_BYTES_OPT, MAX_JSON_BYTES))
        if kind == "sniff" and isinstance(handler, HTTPRouteHandler):
            limit = max(limit, handler.resolve_request_max_body_size() or 0)  # it may be plain text
        body = await _read_body(scope, receive, limit)
        if kind == "sniff" and body.lstrip()[:1] in (b"{", b"["):
            kind = "json"
        if kind == "json" and not opt.get(JSON_CHECKED_BY_HANDLER_OPT, False):
            if len(body) > MAX_JSON_BYTES and MAX_JSON_BYTES_OPT not in opt:
                raise TooLarge(f"the body must not exceed {MAX_JSON_BYTES} bytes", field="body")
            check_json_body(body)
        elif kind == "form":
            check_pairs(body, "body")
        await app(scope, _replay(body, receive), send)

    return middleware
