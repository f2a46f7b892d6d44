"""Organisation shapes on the wire: the setup checklist, the admin user list and bulk imports."""

from __future__ import annotations

import msgspec


class ChecklistItemOut(msgspec.Struct):
    key: str
    done: bool
    detail: dict[str, int | str | None]


class ChecklistOut(msgspec.Struct):
    items: list[ChecklistItemOut]
    done: int
    total: int
    complete: bool
