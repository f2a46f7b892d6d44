"""A job pushed straight to Redis (`broker_message`, for a caller that pushes it in one round trip
with other commands) is the message Celery's own `send_task` would have queued, and a worker runs it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from lms.config import Settings
from lms.lib.ids import new_id
from lms.lib.jobs import Job, broker_message, build_celery, send_now
from lms.lib.redis_clients import blocking_redis

# Differ from message to message: ids, and the host that sent it.
VARYING = {("headers", "id"), ("headers", "root_id"), ("headers", "origin")}
VARYING_PROPERTIES = {"correlation_id", "delivery_tag"}


def comparable(raw: str) -> dict[str, Any]:
    message = json.loads(raw)
    for part, key in VARYING:
        message[part].pop(key)
    for key in VARYING_PROPERTIES:
        message["properties"].pop(key)
    return message


async def test_a_job_pushed_straight_to_redis_is_the_message_celery_sends(settings: Settings) -> None:
    queued = replace(settings, celery_queue=f"job-messages-{new_id().hex[:8]}")
    app = build_celery(queued)
    redis = blocking_redis(queued.redis_url or "")
    job = Job("tests.some_job", ("a5b1c2d3-0000-4000-8000-000000000000", "x"))
    try:
        send_now(job, app)
        (sent,) = await redis.lrange(queued.celery_queue, 0, -1)
        message = broker_message(job, app)
        assert message is not None
        assert (message.broker_url, message.queue) == (queued.redis_url, queued.celery_queue)
        assert comparable(message.message) == comparable(sent)
        # Each message its own task id.
        first, again = json.loads(message.message), json.loads(broker_message(job, app).message)  # type: ignore[union-attr]
        assert first["headers"]["id"] != again["headers"]["id"]
    finally:
        await redis.delete(queued.celery_queue)
        await redis.aclose()


def test_a_job_with_a_countdown_is_left_to_celery(settings: Settings) -> None:
    app = build_celery(settings)
    assert broker_message(Job("tests.some_job", ("x",), countdown=5), app) is None
