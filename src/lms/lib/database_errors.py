"""Database refusals of bad data (out-of-range numbers, NUL in text, broken keys) read as a 4xx.

The edge and each route's parameters should stop such input first; this is the net under them, so
that a value PostgreSQL or asyncpg refuses never becomes a 500. Messages name a field when the
refusal says which, and never echo a stored value (so they reveal nothing about another tenant).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from advanced_alchemy.exceptions import NotFoundError
from sqlalchemy import Index
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.schema import ColumnCollectionConstraint

from lms.db.base import metadata

_KEY_COLUMNS = re.compile(r"Key \(([^)]*)\)=")
# asyncpg's own refusal of a parameter, before anything is sent: "invalid input for query argument
# $2: 9223372036854775808 (value out of int64 range)".
_ARGUMENT_VALUE = re.compile(r"query argument \$\d+: (.*) \(", re.DOTALL)
_SCOPE_COLUMNS = {"tenant_id"}


@dataclass(frozen=True)
class Refusal:
    """What to answer: an HTTP status, a machine code, a message and the field when known."""

    status: int
    code: str
    message: str
    field: str | None = None


def refusal_for(exc: BaseException, request_values: Mapping[str, str]) -> Refusal | None:
    """The 4xx answer for a database refusal anywhere in `exc`'s chain, or None (a genuine fault).

    `request_values` are the request's query and path values by name, to name the field a
    refused parameter came from."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NotFoundError):
            return Refusal(404, "not_found", "not found")
        if isinstance(current, DBAPIError):
            return _from_dbapi(current, request_values)
        current = current.__cause__ or current.__context__
    return None


def _from_dbapi(exc: DBAPIError, request_values: Mapping[str, str]) -> Refusal | None:
    orig = exc.orig
    state = str(getattr(orig, "sqlstate", "") or "")
    cause = getattr(orig, "__cause__", None) or orig
    message = str(cause)
    if state.startswith("23"):
        return _from_integrity(state, cause)
    if state.startswith("22") or state == "54000":
        field = _field_from_values(message, request_values)
        return Refusal(422, "validation_failed", _data_message(state, message), field)
    return None


def _from_integrity(state: str, cause: object) -> Refusal:
    detail = str(getattr(cause, "detail", "") or "")
    field = (
        _constraint_field(getattr(cause, "table_name", None), getattr(cause, "constraint_name", None))
        or _key_field(detail)
        or getattr(cause, "column_name", None)
    )
    if state == "23505":
        return Refusal(409, "conflict", "a record with this value already exists", field)
    if state == "23503":
        if "is still referenced" in detail:
            return Refusal(409, "conflict", "this record is still in use by other records")
        # Keys include tenant_id: another tenant's row and no row at all read the same here.
        return Refusal(422, "validation_failed", "refers to a record that does not exist", field)
    if state == "23502":
        return Refusal(422, "validation_failed", "is required", field)
    if state == "23P01":
        return Refusal(409, "conflict", "conflicts with an existing record", field)
    return Refusal(422, "validation_failed", "is not an allowed value", field)


def _constraint_field(table_name: str | None, constraint_name: str | None) -> str | None:
    """The user-facing columns of a constraint, from the models' metadata (PostgreSQL leaves the key
    out of its message when row-level security hides the row): the constraint's own columns when the
    models declare it, else the table's columns that its name spells (`fk_lessons_tenant_media_asset`
    names `media_asset_id`, `ux_users_tenant_email` names `email`)."""
    table = metadata.tables.get(table_name or "")
    if table is None or not constraint_name:
        return None
    for key in [*table.constraints, *table.indexes]:
        if isinstance(key, ColumnCollectionConstraint | Index) and key.name == constraint_name:
            named = [c.name for c in key.columns if c.name not in _SCOPE_COLUMNS]
            if named:
                return ", ".join(named)
    tokens = constraint_name.split("_")
    spelled = [
        column.name
        for column in table.columns
        if column.name not in _SCOPE_COLUMNS | {"id"}
        and (_spells(tokens, column.name.split("_")) or _spells(tokens, column.name.removesuffix("_id").split("_")))
    ]
    return ", ".join(spelled) or None


def _spells(tokens: list[str], words: list[str]) -> bool:
    return any(tokens[i : i + len(words)] == words for i in range(1, len(tokens) - len(words) + 1))


def _key_field(detail: str) -> str | None:
    """`Key (tenant_id, email)=(...)` names the columns; the tenant scope is not the user's field."""
    match = _KEY_COLUMNS.search(detail)
    if match is None:
        return None
    columns = [c.strip().strip('"') for c in match.group(1).split(",")]
    named = [c for c in columns if c not in _SCOPE_COLUMNS]
    return ", ".join(named) or None


def _data_message(state: str, message: str) -> str:
    if state == "22021" or "surrogates not allowed" in message or state == "22P05":
        return "must not contain NUL characters and must be valid UTF-8"
    if state == "22003" or "out of int" in message or "out of range" in message:
        return "is out of range"
    if state == "22001":
        return "is too long"
    if state == "54000":
        return "is too large"
    return "is not a valid value"


def _field_from_values(message: str, request_values: Mapping[str, str]) -> str | None:
    """The request parameter whose value the refusal quotes (or which carries the NUL it reports)."""
    argument = _ARGUMENT_VALUE.search(message)
    quoted = argument.group(1) if argument else None
    for name, value in request_values.items():
        if quoted is not None and quoted in (value, repr(value)):
            return name
        if "0x00" in message and "\x00" in value:
            return name
        if value and f'"{value}"' in message:
            return name
    return None
