"""Fixtures of the compliance tests."""

from __future__ import annotations

import pytest

from lms.lib import jobs


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[jobs.Job]:
    """The jobs this process sends after a commit (kept here instead of going to Redis)."""
    kept: list[jobs.Job] = []
    monkeypatch.setattr(jobs, "send_now", lambda job, sender=None: kept.append(job))
    return kept
