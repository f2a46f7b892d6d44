"""Refund amounts typed on the page, and the overage rule of one day."""

from __future__ import annotations

import pytest

from lms.billing.pages import parse_amount
from lms.billing.services.overage import Peak


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("12", 1200), ("12.5", 1250), ("12.50", 1250), ("12,50", 1250), (" 7,05 ", 705), ("0.01", 1)],
)
def test_amounts_are_read_as_cents(typed: str, cents: int) -> None:
    assert parse_amount(typed) == cents


@pytest.mark.parametrize("typed", ["", "ten", "12.505", "-3", "1e3", "12.5.0", "1,000.00", "9999999999"])
def test_anything_else_is_refused(typed: str) -> None:
    assert parse_amount(typed) is None


def test_a_day_counts_seats_above_the_licence_and_nothing_without_one() -> None:
    assert Peak(used=7, licensed=5).over == 2
    assert Peak(used=4, licensed=5).over == 0
    # No licence configured: there is nothing to be over.
    assert Peak(used=40, licensed=0).over == 0
