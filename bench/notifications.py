"""One announcement to every learner of a tenant: the notification service (each learner's preferences
applied, every in-app row stored, every digest entry queued) against a bare bulk insert of the same
rows, both measured in the same run on the same fresh database.

Run: `.venv/bin/python bench/notifications.py [--learners 100000]`. With DATABASE_URL and REDIS_URL set
it uses those servers; without them, the embedded ones, as `lms` does. The database it creates is
dropped at the end. Exit status 0 when the ratio is at most --target and the announcement takes less
than --max-seconds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from support import bench_settings

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database, create_database
from lms.db.migrate import migrate
from lms.identity.queries import active_user_ids
from lms.notifications import services
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

BARE_INSERT = text(
    """
    insert into notifications (id, tenant_id, user_id, kind, params, link, in_app, email_state, created_at, updated_at)
    select gen_random_uuid(), :tenant, u, 'announcement', cast(:params as jsonb), null, true, 'digest', :at, :at
    from unnest(cast(:users as uuid[])) as u
    """
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="announcements (and baselines) measured")
    parser.add_argument("--target", type=float, default=2.0, help="highest acceptable service/bare ratio")
    parser.add_argument("--max-seconds", type=float, default=10.0)
    return parser.parse_args(argv)


async def tenant_with_learners(db: Database, settings: Settings, count: int) -> uuid.UUID:
    """A tenant with `count` learners; one in ten turned announcements off in the app or chose instant e-mail."""
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="bench"), settings.public_base_domain)
        tenant = await admin.create(f"bench-{uuid.uuid4().hex[:8]}", "Bench Learning Co", Plan.TEAM, count)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(
            text(
                """
                insert into users (id, tenant_id, email, display_name, status, roles, groups, created_at, updated_at)
                select gen_random_uuid(), :tenant, 'learner' || n || '@bench.test', 'Learner ' || n, 'active',
                       array['learner'], array[]::varchar[], now(), now()
                from generate_series(1, :count) as n
                """
            ),
            {"tenant": tenant.id, "count": count},
        )
        await session.execute(
            text(
                """
                insert into notification_preferences
                    (id, tenant_id, user_id, kind, channel, mode, created_at, updated_at)
                select gen_random_uuid(), :tenant, id, 'announcement',
                       case when row_number() over () % 2 = 0 then 'in_app' else 'email' end,
                       case when row_number() over () % 2 = 0 then 'off' else 'instant' end, now(), now()
                from (select id from users order by id limit :some) as picked
                """
            ),
            {"tenant": tenant.id, "some": count // 10},
        )
    return tenant.id


async def announce_once(db: Database, tenant_id: uuid.UUID, round_no: int) -> tuple[float, int]:
    started = time.perf_counter()
    async with tenant_session(db.app_sessions, tenant_id) as session:
        users = await active_user_ids(session)
        result = await services.announce(
            session,
            tenant_id,
            users,
            "announcement",
            {"subject": f"Office move {round_no}", "message": "We move to the new building on Monday."},
            link="/courses",
        )
    return time.perf_counter() - started, result.recipients


async def bare_once(db: Database, tenant_id: uuid.UUID, users: list[uuid.UUID], round_no: int) -> float:
    started = time.perf_counter()
    async with tenant_session(db.app_sessions, tenant_id) as session:
        await session.execute(
            BARE_INSERT,
            {
                "tenant": tenant_id,
                "users": users,
                "params": f'{{"subject": "Bare insert {round_no}", "message": "We move on Monday."}}',
                "at": datetime.now(UTC),
            },
        )
    return time.perf_counter() - started


async def run(args: argparse.Namespace, settings: Settings) -> int:
    db = create_database(settings)
    try:
        tenant_id = await tenant_with_learners(db, settings, args.learners)
        async with tenant_session(db.app_sessions, tenant_id) as session:
            users = await active_user_ids(session)
        service_times, bare_times = [], []
        recipients = 0
        for round_no in range(args.rounds):
            bare_times.append(await bare_once(db, tenant_id, users, round_no))
            took, recipients = await announce_once(db, tenant_id, round_no)
            service_times.append(took)
        async with tenant_session(db.app_sessions, tenant_id) as session:
            stored = (
                await session.execute(
                    text(
                        "select count(*) filter (where in_app), count(*) filter (where email_state = 'digest'), "
                        "count(*) filter (where email_state = 'instant') from notifications "
                        "where params->>'subject' = :subject"
                    ),
                    {"subject": f"Office move {args.rounds - 1}"},
                )
            ).one()
    finally:
        await db.dispose()
    service, bare = statistics.median(service_times), statistics.median(bare_times)
    ratio = service / bare
    print(f"learners: {args.learners:,}; recipients of the announcement: {recipients:,}")
    print(f"last announcement: {stored[0]:,} in-app rows, {stored[1]:,} queued for the digest, {stored[2]:,} instant")
    print(
        f"announcement (service, median of {args.rounds}): {service:.2f} s  runs {[round(t, 2) for t in service_times]}"
    )
    print(f"bare bulk insert (median of {args.rounds}):      {bare:.2f} s  runs {[round(t, 2) for t in bare_times]}")
    print(
        f"ratio service / bare: {ratio:.2f} (target <= {args.target}); announcement < {args.max_seconds} s: "
        f"{'yes' if service < args.max_seconds else 'NO'}"
    )
    return 0 if ratio <= args.target and service < args.max_seconds else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with bench_settings("bench_notifications") as settings:
        migrate(settings)
        return asyncio.run(run(args, settings))


if __name__ == "__main__":
    sys.exit(main())
