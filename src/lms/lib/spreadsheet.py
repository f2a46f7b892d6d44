"""CSV that is safe to open in a spreadsheet: a cell starting with = + - @ (or a tab or carriage return)
would run as a formula (OWASP "CSV injection"), so such cells are prefixed with an apostrophe."""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Text that a spreadsheet shows as text; numbers, dates and empty cells pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
