"""The worker's Redis QoS: an acknowledgement that races a Redis restart does not end the worker."""

from __future__ import annotations

from typing import Any

import pytest

from workers.broker import RestoreTolerantQoS


class _ClosedChannel:
    """A channel whose connection a Redis restart has already closed (kombu then fails on `client`)."""

    def conn_or_acquire(self, client: Any = None) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'client'")


def test_an_ack_without_a_connection_leaves_the_message_for_redelivery() -> None:
    qos = RestoreTolerantQoS.__new__(RestoreTolerantQoS)
    qos.channel = _ClosedChannel()
    qos._delivered = {"tag-1": object()}
    qos.ack("tag-1")  # logged, not raised
    assert "tag-1" not in qos._delivered


def test_other_ack_failures_still_raise() -> None:
    class _Broken:
        def conn_or_acquire(self, client: Any = None) -> Any:
            raise ValueError("not a connection problem")

    qos = RestoreTolerantQoS.__new__(RestoreTolerantQoS)
    qos.channel = _Broken()
    qos._delivered = {"tag-2": object()}
    with pytest.raises(ValueError, match="not a connection problem"):
        qos.ack("tag-2")
