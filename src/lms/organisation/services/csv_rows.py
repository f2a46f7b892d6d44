"""Reading a people CSV: header detection, the suggested column mapping, and a streaming row check
that yields rows ready for COPY and records every problem with its row number, column and reason."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from uuid_utils import uuid7

from lms.identity.accounts.services.bulk import RowProblem, StagedRow
from lms.identity.schemas import Role

FIELDS = ("email", "display_name", "external_id", "roles", "groups", "manager_email", "locale")
REQUIRED_FIELDS = ("email", "display_name")
ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail", "email address", "e-mail address", "work email"),
    "display_name": ("display_name", "display name", "name", "full name", "full_name"),
    "external_id": ("external_id", "external id", "employee id", "employee number", "employee_id", "id"),
    "roles": ("roles", "role"),
    "groups": ("groups", "group", "team"),
    "manager_email": ("manager_email", "manager email", "manager e-mail", "manager"),
    "locale": ("locale", "language", "lang"),
}
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
LOCALES = frozenset({"en", "de", "fr"})
ROLES = frozenset(r.value for r in Role)
LIST_SPLIT = re.compile(r"\s*[;|]\s*")
MAX = {"email": 320, "display_name": 200, "external_id": 255, "group": 200}


class UnreadableFile(ValueError):
    """The file is not a CSV this import can read (encoding, no header, no rows)."""


def sniff_delimiter(header_line: str) -> str:
    """Comma unless the header clearly uses semicolons or tabs (spreadsheets in many locales)."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def open_text(stream: IO[bytes]) -> io.TextIOWrapper:
    """UTF-8 text (a BOM from spreadsheet exports is dropped); invalid bytes raise on reading."""
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")


def read_headers(stream: IO[bytes]) -> list[str]:
    text = open_text(stream)
    try:
        first = text.readline()
    except UnicodeDecodeError as exc:
        raise UnreadableFile("the file is not UTF-8 text; save it as CSV UTF-8") from exc
    finally:
        text.detach()  # the caller's stream stays open
    if not first.strip():
        raise UnreadableFile("the file is empty; the first row must name the columns")
    header = next(csv.reader([first], delimiter=sniff_delimiter(first)))
    headers = [h.strip()[:200] for h in header]
    if any("\x00" in h for h in headers):
        raise UnreadableFile("the header row contains a character that is not allowed")
    return headers


ATTRIBUTE_PREFIX = "attr:"
# Columns kept as custom attributes unless the admin says otherwise: what dynamic group rules are
# written against (department = Sales), not group names.
SUGGESTED_ATTRIBUTES = ("department", "division", "location", "country", "office", "job title", "cost center")


def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """field -> header, from the usual names of each column (case and spaces ignored); a column such as
    Department is suggested as a custom attribute (`attr:department`)."""
    normalised = {h.strip().lower().replace("_", " "): h for h in headers}
    mapping: dict[str, str] = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            header = normalised.get(alias.replace("_", " "))
            if header is not None and header not in mapping.values():
                mapping[name] = header
                break
    for usual in SUGGESTED_ATTRIBUTES:
        header = normalised.get(usual)
        if header is not None and header not in mapping.values():
            mapping[ATTRIBUTE_PREFIX + attribute_name(header)] = header
    return mapping


ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def attribute_name(header: str) -> str:
    """The attribute a column is kept as: its header in lower case, spaces as underscores."""
    return re.sub(r"[^a-z0-9_]", "", header.strip().lower().replace(" ", "_").replace("-", "_"))[:63] or "attribute"


def check_mapping(mapping: dict[str, str], headers: list[str]) -> dict[str, str]:
    """Problems of a mapping, field -> message (required fields, unknown headers, a header used twice).
    `attr:<name>` keys keep a column as the custom attribute <name>."""
    errors: dict[str, str] = {}
    for name in REQUIRED_FIELDS:
        if not mapping.get(name):
            errors[name] = "choose the column that holds this"
    seen: dict[str, str] = {}
    for name, header in mapping.items():
        if name.startswith(ATTRIBUTE_PREFIX):
            if ATTRIBUTE_NAME.match(name[len(ATTRIBUTE_PREFIX) :]) is None:
                errors[name] = "an attribute name is lower-case letters, digits and _"
            elif header not in headers:
                errors[name] = "the file has no such column"
            continue
        if name not in FIELDS:
            errors[name] = "not a field of an import"
        elif header and header not in headers:
            errors[name] = "the file has no such column"
        elif header and header in seen:
            errors[name] = f"this column is already used for {seen[header]}"
        elif header:
            seen[header] = name
    return errors


@dataclass
class RowReader:
    """Streams checked rows out of a CSV; problems (and counts) accumulate while it is consumed."""

    mapping: dict[str, str]
    problems: list[RowProblem] = field(default_factory=list)
    rows_read: int = 0

    def rows(self, stream: IO[bytes]) -> Iterator[StagedRow]:
        text = open_text(stream)
        try:
            first = text.readline()
        except UnicodeDecodeError as exc:
            raise UnreadableFile("the file is not UTF-8 text; save it as CSV UTF-8") from exc
        delimiter = sniff_delimiter(first)
        headers = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
        index = {name: headers.index(header) for name, header in self.mapping.items() if header in headers}
        column = {name: self.mapping[name] for name in index}
        i_email, i_name = index["email"], index["display_name"]
        i_ext, i_roles, i_groups = index.get("external_id"), index.get("roles"), index.get("groups")
        i_manager, i_locale = index.get("manager_email"), index.get("locale")
        attribute_columns = [
            (name[len(ATTRIBUTE_PREFIX) :], i) for name, i in index.items() if name.startswith(ATTRIBUTE_PREFIX)
        ]
        emails: set[str] = set()
        externals: set[str] = set()
        problems = self.problems
        # Roles, departments, managers and languages repeat from row to row: each distinct cell is
        # checked once (value, or the problem's reason), in caches that are emptied when they grow large.
        roles_seen: dict[str, tuple[list[str] | None, str | None]] = {}
        groups_seen: dict[str, tuple[list[str] | None, str | None]] = {}
        managers_seen: dict[str, tuple[str | None, str | None]] = {}
        locales_seen: dict[str, tuple[str | None, str | None]] = {}
        caches = (roles_seen, groups_seen, managers_seen, locales_seen)
        email_match = EMAIL.match
        max_email, max_name, max_external = MAX["email"], MAX["display_name"], MAX["external_id"]
        row_no = 1
        reader = csv.reader(text, delimiter=delimiter)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except UnicodeDecodeError:
                problems.append(RowProblem(row_no + 1, "", "the file is not UTF-8 text from this row on"))
                break
            except csv.Error as exc:
                row_no += 1
                problems.append(RowProblem(row_no, "", f"this row cannot be read as CSV ({exc})"))
                continue
            row_no += 1
            width = len(cells)
            if not width or (width == 1 and not cells[0].strip()):
                continue
            self.rows_read += 1
            if "\x00" in "".join(cells):
                problems.append(RowProblem(row_no, "", "the row contains a character that is not allowed"))
                continue
            email = cells[i_email].strip() if i_email < width else ""
            if not email:
                problems.append(RowProblem(row_no, column["email"], "the e-mail address is missing"))
                continue
            if len(email) > max_email or email_match(email) is None:
                problems.append(RowProblem(row_no, column["email"], "not an e-mail address"))
                continue
            key = email.lower()
            if key in emails:
                problems.append(RowProblem(row_no, column["email"], "this e-mail address is already in an earlier row"))
                continue
            name = cells[i_name].strip() if i_name < width else ""
            if not name:
                problems.append(RowProblem(row_no, column["display_name"], "the name is missing"))
                continue
            if len(name) > max_name:
                problems.append(RowProblem(row_no, column["display_name"], "the name is longer than 200 characters"))
                continue
            external: str | None = None
            if i_ext is not None and i_ext < width:
                external = cells[i_ext].strip() or None
                if external is not None:
                    if len(external) > max_external:
                        problems.append(RowProblem(row_no, column["external_id"], "longer than 255 characters"))
                        continue
                    if external in externals:
                        problems.append(
                            RowProblem(row_no, column["external_id"], "this external id is already in an earlier row")
                        )
                        continue
            roles: list[str] | None = None
            if i_roles is not None and i_roles < width:
                raw = cells[i_roles]
                checked_roles = roles_seen.get(raw)
                if checked_roles is None:
                    checked_roles = roles_seen[raw] = _check_roles(raw)
                roles, reason = checked_roles
                if reason is not None:
                    problems.append(RowProblem(row_no, column["roles"], reason))
                    continue
            groups: list[str] | None = None
            if i_groups is not None:
                raw = cells[i_groups] if i_groups < width else ""
                checked_groups = groups_seen.get(raw)
                if checked_groups is None:
                    checked_groups = groups_seen[raw] = _check_groups(raw)
                groups, reason = checked_groups
                if reason is not None:
                    problems.append(RowProblem(row_no, column["groups"], reason))
                    continue
            manager: str | None = None
            if i_manager is not None and i_manager < width:
                raw = cells[i_manager]
                checked = managers_seen.get(raw)
                if checked is None:
                    checked = managers_seen[raw] = _check_manager(raw)
                manager, reason = checked
                if reason is not None:
                    problems.append(RowProblem(row_no, column["manager_email"], reason))
                    continue
            locale: str | None = None
            if i_locale is not None and i_locale < width:
                raw = cells[i_locale]
                checked = locales_seen.get(raw)
                if checked is None:
                    checked = locales_seen[raw] = _check_locale(raw)
                locale, reason = checked
                if reason is not None:
                    problems.append(RowProblem(row_no, column["locale"], reason))
                    continue
            attributes: str | None = None
            if attribute_columns:
                values = {a: cells[i].strip()[:500] for a, i in attribute_columns if i < width and cells[i].strip()}
                attributes = json.dumps(values) if values else None
            emails.add(key)
            if external is not None:
                externals.add(external)
            if not row_no % _CACHE_CHECK_EVERY:
                for cache in caches:
                    if len(cache) > _CACHE_MAX:
                        cache.clear()
            # The id the account gets if the row creates one; asyncpg's COPY takes it as it is (its bytes).
            yield (row_no, uuid7(), email, name, external, roles, groups, manager, locale, attributes)


# A file whose cells rarely repeat does not grow the caches of checked cells beyond this.
_CACHE_MAX = 10_000
_CACHE_CHECK_EVERY = 1_000


def _check_roles(raw: str) -> tuple[list[str] | None, str | None]:
    """Roles of a cell (None when blank: the account keeps its roles), or the problem's reason."""
    raw = raw.strip()
    if not raw:
        return None, None
    roles = sorted({r.lower() for r in LIST_SPLIT.split(raw) if r})
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        return None, f"unknown role {unknown[0]!r} (use learner, instructor, tenant_admin)"
    return roles, None


def _check_groups(raw: str) -> tuple[list[str] | None, str | None]:
    raw = raw.strip()
    groups = sorted({g for g in LIST_SPLIT.split(raw) if g}) if raw else []
    if any(len(g) > MAX["group"] for g in groups):
        return None, "a group name is longer than 200 characters"
    return groups, None


def _check_manager(raw: str) -> tuple[str | None, str | None]:
    manager = raw.strip().lower() or None
    if manager is not None and (len(manager) > MAX["email"] or EMAIL.match(manager) is None):
        return None, "not an e-mail address"
    return manager, None


def _check_locale(raw: str) -> tuple[str | None, str | None]:
    locale = raw.strip().lower() or None
    if locale is not None and locale not in LOCALES:
        return None, "unknown language (use en, de or fr)"
    return locale, None
