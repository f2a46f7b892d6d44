"""The platform's clock: one `now()` for every timestamp, so tests can move time without sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime


def _system_now() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _system_now


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _source()


def timestamp() -> float:
    """The current time as Unix seconds (for tokens and signed links)."""
    return now().timestamp()


@contextmanager
def clock_set_to(source: Callable[[], datetime]) -> Iterator[None]:
    """Within the block, `now()` answers `source()`; the system clock returns afterwards."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
