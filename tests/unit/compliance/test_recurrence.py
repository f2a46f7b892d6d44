"""Recurrence arithmetic: calendar months back, and when a completion has lapsed."""

from __future__ import annotations

from datetime import UTC, datetime

from lms.compliance.services.rules import completion_lapsed, months_before


def test_months_before_counts_calendar_months_and_keeps_the_last_day_of_shorter_months() -> None:
    assert months_before(datetime(2027, 3, 31, 8, 30, tzinfo=UTC), 1) == datetime(2027, 2, 28, 8, 30, tzinfo=UTC)
    assert months_before(datetime(2028, 3, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), 12) == datetime(2026, 1, 15, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), 13) == datetime(2025, 12, 15, tzinfo=UTC)


def test_a_completion_lapses_by_age_or_by_an_expiry_after_it() -> None:
    completed = datetime(2026, 1, 10, tzinfo=UTC)
    assert completion_lapsed(completed, datetime(2026, 2, 1, tzinfo=UTC), None)
    assert not completion_lapsed(completed, datetime(2026, 1, 1, tzinfo=UTC), None)
    assert completion_lapsed(completed, None, datetime(2026, 6, 1, tzinfo=UTC))
    # Finished again after the certificate ran out: a new completion.
    assert not completion_lapsed(completed, None, datetime(2026, 1, 5, tzinfo=UTC))
    assert not completion_lapsed(None, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
