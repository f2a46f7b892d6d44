"""The worker's side of the Redis broker: restoring unacknowledged messages must never kill it.

When Redis restarts, Celery closes the broken connection before its channels; closing a channel
restores the messages it had delivered but not acknowledged, and with the connection gone kombu
fails building a client for that (`AttributeError: 'NoneType' object has no attribute 'hostname'`),
which Celery reports as an unrecoverable error and exits; an acknowledgement in the same moment
fails the same way. Those messages are safe where they are
(Redis keeps them in its unacked index until the visibility timeout, and leased jobs are re-sent
by the reaper sooner), so a failed restore is logged and the worker goes on reconnecting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger("lms.workers.broker")


# What must be written together with a delivered message (the worker's job leases, workers/app.py):
# each is called with the message and the transaction that puts it in the unacked index, so a worker
# killed at any moment leaves both or neither.
DELIVERY_WRITERS: list[Callable[[Any, Any], None]] = []


class RestoreTolerantQoS(kombu_redis.QoS):
    _delivering: Any = None

    def append(self, message: Any, delivery_tag: Any) -> None:
        self._delivering = message
        try:
            super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
        finally:
            self._delivering = None

    @contextmanager
    def pipe_or_acquire(self, pipe: Any = None, client: Any = None) -> Iterator[Any]:
        with super().pipe_or_acquire(pipe, client) as acquired:
            message, self._delivering = self._delivering, None
            if message is not None:
                for write in DELIVERY_WRITERS:
                    write(message, acquired)
            yield acquired

    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)  # type: ignore[no-untyped-call]
        except Exception as exc:  # the broker is unreachable: leave the messages in its unacked index
            log.warning("unacknowledged messages left for redelivery: %s", exc)
            self._delivered.clear()

    def ack(self, delivery_tag: Any) -> None:
        # An ack racing a Redis restart finds the channel's connection gone (`'NoneType' object has no
        # attribute 'client'`): the message stays in the unacked index and is redelivered; the jobs are
        # idempotent, so a second run does nothing. Celery must not exit over it.
        try:
            super().ack(delivery_tag)  # type: ignore[no-untyped-call]
        except AttributeError as exc:
            log.warning("acknowledgement left for redelivery (broker connection gone): %s", exc)
            self._delivered.pop(delivery_tag, None)


def install_restore_tolerant_qos() -> None:
    """Make every Redis channel of this process use the tolerant QoS (idempotent)."""
    kombu_redis.Channel.QoS = RestoreTolerantQoS


# Stronger first: a Redis that fsyncs more often than required is fine.
_FSYNC_STRENGTH = {"no": 0, "everysec": 1, "always": 2}


def persistence_shortfall(config: dict[str, str], required_fsync: str) -> str | None:
    """What Redis's `CONFIG GET append*` lacks against the required AOF fsync policy, or None."""
    if not required_fsync:
        return None
    if config.get("appendonly") != "yes":
        return "Redis runs without AOF (appendonly no): a restart loses queued jobs and accepted progress events"
    actual = config.get("appendfsync", "no")
    if _FSYNC_STRENGTH.get(actual, 0) < _FSYNC_STRENGTH.get(required_fsync, 1):
        return f"Redis fsyncs its AOF '{actual}', less often than the required '{required_fsync}'"
    return None


def warn_unless_persistent(client: Any, required_fsync: str) -> str | None:
    """At worker start: log an error when Redis persists less than required (a managed Redis that
    refuses CONFIG is trusted)."""
    try:
        config = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
                  for k, v in client.config_get("append*").items()}  # fmt: skip
    except Exception as exc:
        log.info("Redis persistence not checked: %s", exc)
        return None
    shortfall = persistence_shortfall(config, required_fsync)
    if shortfall:
        log.error("%s; see the README, 'What a 202 guarantees'", shortfall)
    return shortfall
