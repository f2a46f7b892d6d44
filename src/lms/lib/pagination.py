"""Limit/offset pagination shared by every list endpoint."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec
from litestar.params import Parameter

T = TypeVar("T")

MAX_LIMIT = 200


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(msgspec.Struct):
    limit: int
    offset: int


def provide_page_params(
    limit: int = Parameter(query="limit", default=50, ge=1, le=MAX_LIMIT),
    offset: int = Parameter(query="offset", default=0, ge=0),
) -> PageParams:
    return PageParams(limit=limit, offset=offset)
