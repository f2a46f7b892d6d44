"""A mapped row as a plain dict of its columns (for data exports), leaving out named columns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect


def row_record(row: Any, leave_out: Iterable[str] = ()) -> dict[str, Any]:
    """Every column attribute of `row` but those in `leave_out` (secrets, internal bookkeeping)."""
    skipped = set(leave_out) | {"sa_orm_sentinel"}
    return {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs if attr.key not in skipped}
