"""The worker's side of the Redis broker: restoring unacknowledged messages must never kill it.

When Redis restarts, Celery closes the broken connection before its channels; closing a channel
restores the messages it had delivered but not acknowledged, and with the connection gone kombu
fails building a client for that (`AttributeError: 'NoneType' object has no attribute 'hostname'`),
which Celery reports as an unrecoverable error and exits. Those messages are safe where they are
(Redis keeps them in its unacked index until the visibility timeout, and leased jobs are re-sent
by the reaper sooner), so a failed restore is logged and the worker goes on reconnecting.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger("lms.workers.broker")


class RestoreTolerantQoS(kombu_redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)  # type: ignore[no-untyped-call]
        except Exception as exc:  # the broker is unreachable: leave the messages in its unacked index
            log.warning("unacknowledged messages left for redelivery: %s", exc)
            self._delivered.clear()


def install_restore_tolerant_qos() -> None:
    """Make every Redis channel of this process use the tolerant QoS (idempotent)."""
    kombu_redis.Channel.QoS = RestoreTolerantQoS
