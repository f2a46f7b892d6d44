"""One event the fold cannot store is set aside as a dead letter; every other event, of every tenant,
is folded as usual. Operators list the letters and `/metrics` counts them."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis
from prometheus_client import generate_latest
from sqlalchemy import text

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.services.dead_letters import refresh_dead_letter_gauge
from lms.learning.services.ingest import StreamKeys
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser, eventually, host
from tests.integration.catalog.helpers import BuiltCourse, Client
from tests.integration.learning.conftest import Fold
from tests.integration.learning.test_progress import enrolled_learner, heartbeat, send

# How a stream entry can be poisoned past the edge: (name, the entry's `events` field builder).
POISONS = {
    # PostgreSQL text cannot hold NUL.
    "nul_in_client_event_id": lambda course, good: [
        *good[:2],
        heartbeat(course, 3, [], 3, client_event_id="a\x00b"),
        *good[2:],
    ],
    # Longer than the column holds.
    "overlong_client_event_id": lambda course, good: [
        *good[:2],
        heartbeat(course, 3, [], 3, client_event_id="x" * 500),
        *good[2:],
    ],
}


async def stored_events(db: Database, tenant: Tenant, user_id: Any) -> int:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        count = await session.execute(text("select count(*) from progress_events where user_id = :u"), {"u": user_id})
        return int(count.scalar_one())


async def letters_of(db: Database, tenant: Tenant) -> list[Any]:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        rows = await session.execute(
            text("select event_index, raw_event, reason, user_id from progress_dead_letters order by event_index")
        )
        return list(rows)


async def inject(redis: aioredis.Redis, settings: Settings, tenant: Tenant, user_id: Any, events: bytes) -> None:
    """Append an entry the way ingest does, bypassing its validation (as a bug or an old client might)."""
    keys = StreamKeys.for_queue(settings.celery_queue)
    await redis.xadd(keys.stream, {"tenant": str(tenant.id), "user": str(user_id), "events": events})


@pytest.mark.parametrize("poison", sorted(POISONS))
async def test_a_poisoned_event_is_set_aside_and_every_other_tenant_is_folded(
    poison: str,
    client: Client,
    db: Database,
    redis: aioredis.Redis,
    settings: Settings,
    fold: Fold,
    operator_token: str,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    await fold()  # start from an empty stream
    learners = [await enrolled_learner(client, make_tenant, make_user, login) for _ in range(3)]
    poisoned_tenant, poisoned_course, poisoned_user, _ = learners[0]
    # The poisoned event sits in the middle of its own entry, among good events of the same learner.
    good = [heartbeat(poisoned_course, i, [[i - 1, i]], i) for i in (1, 2, 4, 5)]
    entry = POISONS[poison](poisoned_course, good)
    await inject(redis, settings, poisoned_tenant, poisoned_user.id, msgspec.json.encode(entry))
    # Other tenants' heartbeats land in the same read.
    for _, course, _, headers in learners[1:]:
        response = await send(client, course, headers, *[heartbeat(course, i, [[i - 1, i]], i) for i in range(1, 6)])
        assert response.json()["accepted"] == 5

    await fold()

    for tenant, _, user, _ in learners[1:]:
        assert await stored_events(db, tenant, user.id) == 5
        assert await letters_of(db, tenant) == []
    assert await stored_events(db, poisoned_tenant, poisoned_user.id) == 4  # the four good ones
    [letter] = await letters_of(db, poisoned_tenant)
    assert letter.event_index == 2
    assert letter.user_id == poisoned_user.id
    assert "\x00" not in letter.raw_event
    assert letter.reason  # the database's (or the decoder's) own words

    # Redelivery of the same entry (a crash before the acknowledgement) keeps one letter.
    await fold()
    assert len(await letters_of(db, poisoned_tenant)) == 1

    # Operators see it, across tenants or narrowed to one; others do not.
    operator = {"Authorization": f"Bearer {operator_token}"}
    url = f"{host(poisoned_tenant)}/api/v1/operator/dead-letters"
    page = (await client.get(url, params={"tenant_id": str(poisoned_tenant.id)}, headers=operator)).json()
    assert (page["total"], page["limit"], page["offset"]) == (1, 50, 0)
    assert page["items"][0]["tenant_id"] == str(poisoned_tenant.id)
    assert page["items"][0]["source"] == "progress"
    other = learners[1][0]
    assert (await client.get(url, params={"tenant_id": str(other.id)}, headers=operator)).json()["total"] == 0
    assert (await client.get(url, headers=learners[0][3])).status_code in (401, 403)
    assert (await client.get(url, params={"limit": 0}, headers=operator)).status_code == 422

    # The gauge the API processes keep fresh for their metrics listener.
    await refresh_dead_letter_gauge(db)
    metrics = generate_latest().decode()
    [count] = [line for line in metrics.splitlines() if line.startswith("lms_progress_dead_letters ")]
    assert float(count.split()[1]) >= 1


async def test_an_entry_whose_events_do_not_decode_is_kept_whole(
    client: Client,
    db: Database,
    redis: aioredis.Redis,
    settings: Settings,
    fold: Fold,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    await fold()
    tenant, course, user, headers = await enrolled_learner(client, make_tenant, make_user, login)
    await inject(redis, settings, tenant, user.id, b'[{"type": "video_heartbeat", "position": "soon"}')
    assert (await send(client, course, headers, heartbeat(course, 1, [[0, 1]], 1))).json()["accepted"] == 1

    await fold()

    assert await stored_events(db, tenant, user.id) == 1
    [letter] = await letters_of(db, tenant)
    assert letter.event_index == -1
    assert letter.raw_event.startswith('[{"type": "video_heartbeat"')
    assert "undecodable" in letter.reason


async def test_the_worker_folds_the_other_tenants_within_the_usual_window(
    worker: Any,
    client: Client,
    db: Database,
    redis: aioredis.Redis,
    settings: Settings,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    poisoned_tenant, poisoned_course, poisoned_user, _ = await enrolled_learner(client, make_tenant, make_user, login)
    bad = heartbeat(poisoned_course, 1, [], 1, client_event_id=f"nul\x00{uuid.uuid4().hex}")
    await inject(redis, settings, poisoned_tenant, poisoned_user.id, msgspec.json.encode([bad]))
    others: list[tuple[Tenant, BuiltCourse, Any]] = []
    for _ in range(3):
        tenant, course, user, headers = await enrolled_learner(client, make_tenant, make_user, login)
        assert (await send(client, course, headers, heartbeat(course, 1, [[0, 1]], 1))).json()["accepted"] == 1
        others.append((tenant, course, user))

    async def all_folded() -> bool:
        counts = [await stored_events(db, tenant, user.id) for tenant, _, user in others]
        return counts == [1, 1, 1] and len(await letters_of(db, poisoned_tenant)) == 1

    # A blocked fold would never get there; the margin is for a loaded machine.
    await eventually(all_folded, timeout=30)
