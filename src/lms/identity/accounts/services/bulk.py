"""Set-based account upserts for bulk import: rows are COPYed into a temporary table, then matched,
checked and written with a handful of statements under the tenant's RLS (no per-row round trips).

The caller owns the transaction: a dry run is the same work rolled back, so its numbers are the ones
applying would give.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.accounts.services.directory import release_seat_of
from lms.lib import clock
from lms.lib.ids import new_id

STAGE_TABLE = "account_import_rows"
MANAGERS_TABLE = "account_import_managers"
# Columns of the staging table, in COPY order. roles/groups NULL = "not in the file: keep what the account has".
# new_id: the id the account gets if the row creates one (UUIDv7 made while parsing; PostgreSQL has none).
STAGE_COLUMNS = (
    "row_no",
    "new_id",
    "email",
    "display_name",
    "external_id",
    "roles",
    "groups",
    "manager_email",
    "locale",
    "attributes",
)
# attributes: a JSON object as text (custom attributes of the row), or None.
StagedRow = tuple[
    int, UUID, str, str, str | None, list[str] | None, list[str] | None, str | None, str | None, str | None
]

_CREATE_STAGE = f"""
create temporary table {STAGE_TABLE} (
    row_no integer primary key,
    new_id uuid not null,
    email text not null,
    display_name text not null,
    external_id text,
    roles text[],
    groups text[],
    manager_email text,
    locale text,
    attributes jsonb,
    email_key text generated always as (lower(email)) stored,
    user_id uuid
) on commit drop
"""


@dataclass(frozen=True)
class RowProblem:
    row_no: int
    column: str
    reason: str


@dataclass
class BulkOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    # Accounts that would hold a seat (active or invited) afterwards, and the tenant's seats (0 = no limit).
    accounts_after: int = 0
    seats: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def over_seats(self) -> bool:
        return self.seats > 0 and self.accounts_after > self.seats


async def _raw(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def stage_rows(session: AsyncSession, rows: Iterable[StagedRow] | AsyncIterable[StagedRow]) -> int:
    """COPY the rows into the transaction's staging table (dropped at commit or rollback)."""
    await session.execute(text(_CREATE_STAGE))
    driver = await _raw(session)
    await driver.copy_records_to_table(STAGE_TABLE, records=rows, columns=list(STAGE_COLUMNS))
    # Statistics, so that the matching joins against users are planned as hash joins, not loops.
    await session.execute(text(f"analyze {STAGE_TABLE}"))
    return int(await session.scalar(text(f"select count(*) from {STAGE_TABLE}")) or 0)


async def _reject(session: AsyncSession, outcome: BulkOutcome, sql: str, column: str, reason: str) -> int:
    """Rows selected by `sql` (row numbers) become problems and leave the staging table; how many."""
    rows = (await session.execute(text(f"delete from {STAGE_TABLE} where row_no in ({sql}) returning row_no"))).all()
    outcome.problems.extend(RowProblem(row_no, column, reason) for (row_no,) in rows)
    return len(rows)


async def apply_staged(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    invite: bool,
    deactivate_missing: bool,
    acting_user_id: UUID | None,
) -> BulkOutcome:
    """Match staged rows to accounts (external id, then e-mail), refuse contradicting rows, then create,
    update and optionally deactivate accounts missing from the file. Idempotent: unchanged rows write nothing."""
    outcome = BulkOutcome()
    stage = STAGE_TABLE
    # Match by external id first, then by e-mail.
    await session.execute(
        text(
            f"update {stage} r set user_id = u.id from users u "
            "where r.external_id is not null and u.external_id = r.external_id"
        )
    )
    await session.execute(
        text(
            f"update {stage} r set user_id = u.id from users u where r.user_id is null and lower(u.email) = r.email_key"
        )
    )
    # The file's e-mail belongs to another account than the one its external id names.
    await _reject(
        session,
        outcome,
        f"select r.row_no from {stage} r join users u on lower(u.email) = r.email_key where u.id <> r.user_id",
        "email",
        "this e-mail address belongs to another user",
    )
    # An e-mail-matched account already has a different external id.
    await _reject(
        session,
        outcome,
        f"select r.row_no from {stage} r join users u on u.id = r.user_id "
        "where r.external_id is not null and u.external_id is not null and u.external_id <> r.external_id",
        "external_id",
        "this user already has a different external id",
    )
    # Two rows for the same account (different e-mails, one external id; or the reverse).
    await _reject(
        session,
        outcome,
        f"select row_no from (select row_no, row_number() over (partition by user_id order by row_no) n "
        f"from {stage} where user_id is not null) d where n > 1",
        "email",
        "another row of the file is already about this user",
    )
    # Managers: in the tenant already, or in the file; never the person themselves.
    await _reject(
        session,
        outcome,
        f"select r.row_no from {stage} r where r.manager_email = r.email_key",
        "manager_email",
        "a user cannot be their own manager",
    )
    # Managers: the few distinct addresses resolved once, to an account of the tenant or else to the
    # id the manager's own row of the file has or will get (new ids are made while parsing).
    managers = MANAGERS_TABLE
    await session.execute(text(f"create temporary table {managers} (email text primary key, id uuid) on commit drop"))
    await session.execute(
        text(
            f"insert into {managers} (email) select distinct manager_email from {stage} where manager_email is not null"
        )
    )
    await session.execute(text(f"update {managers} g set id = u.id from users u where lower(u.email) = g.email"))
    await session.execute(
        text(
            f"update {managers} g set id = coalesce(f.user_id, f.new_id) from {stage} f "
            "where g.id is null and f.email_key = g.email"
        )
    )
    # Rows whose manager is unknown leave the file; a manager whose own row just left it is unknown in
    # turn, until nothing changes (a chain of managers is short: one or two rounds).
    while await _reject(
        session,
        outcome,
        f"select r.row_no from {stage} r join {managers} g on g.email = r.manager_email where g.id is null",
        "manager_email",
        "no user with this e-mail address in this site, and no valid row for it in the file",
    ):
        await session.execute(
            text(
                f"update {managers} g set id = null where g.id is not null "
                "and not exists (select 1 from users u where u.id = g.id) "
                f"and not exists (select 1 from {stage} f where f.new_id = g.id)"
            )
        )

    now = clock.now()
    params: dict[str, Any] = {"tenant": tenant_id, "now": now}
    if deactivate_missing:
        # Before the inserts: only accounts that existed before the import can be missing from it.
        deactivated = await session.execute(
            text(
                f"""
                update users u set status = 'deactivated', tokens_revoked_at = :now, updated_at = :now
                 where u.status <> 'deactivated'
                   and not (u.roles @> array['tenant_admin']::varchar[])
                   and u.id is distinct from :acting
                   and not exists (select 1 from {stage} r where r.user_id = u.id)
                returning u.id
                """
            ),
            {**params, "acting": acting_user_id},
        )
        gone = [row[0] for row in deactivated]
        outcome.deactivated = len(gone)
        if gone:
            await session.execute(
                text("update refresh_tokens set revoked_at = :now where revoked_at is null and user_id = any(:ids)"),
                {"now": now, "ids": gone},
            )
            # Billing frees their seats (a preview rolls this back with everything else).
            for user_id in gone:
                await release_seat_of(session, tenant_id, user_id)
    # Updates: only rows whose values differ, so a re-import of the same file writes nothing.
    updated = await session.execute(
        text(
            f"""
            with changed as (
                update users u set
                    display_name = r.display_name,
                    email = r.email,
                    external_id = coalesce(r.external_id, u.external_id),
                    roles = coalesce(r.roles, cast(u.roles as text[])),
                    groups = coalesce(r.groups, cast(u.groups as text[])),
                    locale = coalesce(r.locale, u.locale),
                    manager_id = coalesce(g.id, u.manager_id),
                    attributes = coalesce(u.attributes || r.attributes, u.attributes),
                    updated_at = :now
                  from {stage} r left join {managers} g on g.email = r.manager_email
                 where r.user_id = u.id
                   and (u.display_name, u.email, u.external_id, cast(u.roles as text[]), cast(u.groups as text[]),
                        u.locale, u.manager_id, u.attributes)
                       is distinct from
                       (r.display_name, r.email, coalesce(r.external_id, u.external_id),
                        coalesce(r.roles, cast(u.roles as text[])), coalesce(r.groups, cast(u.groups as text[])),
                        coalesce(r.locale, u.locale), coalesce(g.id, u.manager_id),
                        coalesce(u.attributes || r.attributes, u.attributes))
                returning 1
            )
            select count(*) from changed
            """
        ),
        params,
    )
    outcome.updated = int(updated.scalar_one())
    # A manager who is new in this file is inserted by the same statement as the people they manage:
    # the foreign key is checked at the end of the statement.
    created = await session.execute(
        text(
            f"""
            with fresh as (
                insert into users (id, tenant_id, email, display_name, status, roles, groups, external_id, locale,
                                   manager_id, attributes, mfa_enabled, created_at, updated_at)
                select r.new_id, :tenant, r.email, r.display_name, cast(:status as user_status),
                       coalesce(r.roles, array['learner']), coalesce(r.groups, '{{}}'), r.external_id, r.locale,
                       g.id, coalesce(r.attributes, '{{}}'::jsonb), false, :now, :now
                  from {stage} r left join {managers} g on g.email = r.manager_email
                 where r.user_id is null
                returning 1
            )
            select count(*) from fresh
            """
        ),
        {**params, "status": "invited" if invite else "active"},
    )
    outcome.created = int(created.scalar_one())
    total = int(await session.scalar(text(f"select count(*) from {stage}")) or 0)
    outcome.unchanged = total - outcome.created - outcome.updated
    # Group names used by the file exist as groups (SCIM shows them; the admin's group list too).
    missing = list(
        await session.scalars(
            text(
                f"select distinct g from (select unnest(groups) g from {stage} where groups is not null) names "
                "where not exists (select 1 from user_groups ug where ug.display_name = names.g)"
            )
        )
    )
    if missing:
        await session.execute(
            text(
                "insert into user_groups (id, tenant_id, display_name, created_at, updated_at) "
                "select unnest(cast(:ids as uuid[])), :tenant, unnest(cast(:names as text[])), :now, :now "
                "on conflict (tenant_id, display_name) do nothing"
            ),
            {**params, "ids": [new_id() for _ in missing], "names": missing},
        )
    counts = (
        await session.execute(
            text("select (select seats from tenants), count(*) from users where status <> 'deactivated'")
        )
    ).one()
    outcome.seats, outcome.accounts_after = int(counts[0] or 0), int(counts[1])
    outcome.problems.sort(key=lambda p: p.row_no)
    return outcome


async def staged_problem_rows(session: AsyncSession) -> Sequence[int]:
    return list(await session.scalars(text(f"select row_no from {STAGE_TABLE} order by row_no")))
