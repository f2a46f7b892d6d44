"""Typed, bounded request parameters: one definition of a valid limit, offset or number for every route.

A value outside these bounds is refused with 422 naming the parameter, before it reaches the database
(an offset past bigint or a version past int4 would otherwise fail there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypeAlias

from litestar import Request
from litestar.datastructures import State
from litestar.params import PathParameter, QueryParameter

MAX_LIMIT = 200
# Deep enough for any real list; far below bigint, so the database never sees an impossible offset.
MAX_OFFSET = 1_000_000
# Version, part and attempt numbers are PostgreSQL `integer` columns.
INT32_MAX = 2**31 - 1
# S3 multipart uploads have at most 10,000 parts.
MAX_UPLOAD_PARTS = 10_000

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"How many items to return (1 to {MAX_LIMIT}).")]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET, description=f"How many items to skip (0 to {MAX_OFFSET}).")]
VersionNumber = Annotated[
    int, PathParameter(ge=1, le=INT32_MAX, description="A version number (1, 2, ...), as listed by the API.")
]
PartNumber = Annotated[
    int, PathParameter(ge=1, le=MAX_UPLOAD_PARTS, description=f"A part number (1 to {MAX_UPLOAD_PARTS}).")
]

# The request as handlers and providers see it: no authentication backend sets `request.user`/`auth`
# (the principal is a dependency), and the application's state is Litestar's `State`. At run time the
# plain class: Litestar checks each injected value against its annotation, and `isinstance` against a
# subscripted generic fails and falls back, about 0.8 µs per parameter per request.
if TYPE_CHECKING:
    AppRequest: TypeAlias = Request[None, None, State]
else:
    AppRequest = Request

# Expiry of a signed link, in Unix seconds; the upper end is the last second of year 9999.
Expires = Annotated[
    int, QueryParameter(ge=0, le=253_402_300_799, description="When the signed link expires (Unix seconds).")
]
