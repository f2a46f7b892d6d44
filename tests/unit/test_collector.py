"""A serving process settles the garbage collector once started: what start-up built is frozen out of
the collector's sight, and collections run after many more allocations than CPython's default."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from lms.app import create_served_app
from lms.lib.collector import YOUNG_THRESHOLD, settle_after_start_up


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settling_freezes_the_start_up_objects_and_raises_the_thresholds(restored_collector: None) -> None:
    start_up_object = ["built at start-up"]
    settle_after_start_up()
    assert gc.get_freeze_count() > 0
    assert not any(obj is start_up_object for obj in gc.get_objects())  # out of the collector's sight
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    cycle: list[object] = []
    cycle.append(cycle)  # garbage made afterwards is still collected
    del cycle
    assert gc.collect() > 0


def test_the_served_app_settles_the_collector_when_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    from lms.config import get_settings

    get_settings.cache_clear()
    try:
        app = create_served_app()
    finally:
        get_settings.cache_clear()
    assert settle_after_start_up in app.on_startup
