"""Primary keys: UUIDv7, time-ordered, so new rows land at the end of their indexes."""

from __future__ import annotations

from uuid import UUID

import uuid_utils


def new_id() -> UUID:
    """A new UUIDv7 as a standard-library UUID (what SQLAlchemy and asyncpg expect)."""
    return UUID(str(uuid_utils.uuid7()))
