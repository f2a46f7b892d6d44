"""Set-based account upserts for bulk import: rows are COPYed into a temporary table, then matched,
checked and written with a handful of statements under the tenant's RLS (no per-row round trips).

The caller owns the transaction. A dry run (the preview) matches and checks the rows the same way and
counts what the writes would change under the same conditions, so its numbers are the ones applying
would give, without writing (and leaving dead row versions behind) for every preview.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import uuid_utils
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.accounts.services.directory import release_seat_of
from lms.lib import clock
from lms.lib.ids import new_id

STAGE_TABLE = "account_import_rows"
MANAGERS_TABLE = "account_import_managers"
# Columns of the staging table, in COPY order. roles/groups NULL = "not in the file: keep what the account has".
# new_id: the id the account gets if the row creates one (UUIDv7 made while parsing; PostgreSQL has none),
# as uuid_utils makes it: asyncpg's COPY encodes it from its bytes, without a round trip through text.
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
    int, uuid_utils.UUID, str, str, str | None, list[str] | None, list[str] | None, str | None, str | None, str | None
]

_CREATE_STAGE = f"""
create temporary table {STAGE_TABLE} (
    row_no integer not null,
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
    user_id uuid,
    problem smallint
) on commit drop
"""


# Slots: a file of bad rows keeps one of these per row until the report is written.
@dataclass(frozen=True, slots=True)
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
    """COPY the rows into the transaction's staging table (dropped at commit or rollback); how many."""
    # A handful of large statements follow, for this transaction only: their hash joins and sorts fit
    # in memory (instead of spilling to temporary files), and compiling them just in time costs more
    # than it saves.
    await session.execute(text("select set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"))
    await session.execute(text(_CREATE_STAGE))
    driver = await _raw(session)
    status = await driver.copy_records_to_table(STAGE_TABLE, records=rows, columns=list(STAGE_COLUMNS))
    # Statistics of the join keys, so that matching against users is planned as hash joins, not loops.
    await session.execute(text(f"analyze {STAGE_TABLE} (external_id, email_key, manager_email)"))
    return int(str(status).rsplit(" ", 1)[-1])


# Problems found while matching, by their code in the staging table: (column, reason).
_EMAIL_TAKEN, _OTHER_EXTERNAL_ID, _ANOTHER_ROW = 1, 2, 3
_MATCH_PROBLEMS = {
    _EMAIL_TAKEN: ("email", "this e-mail address belongs to another user"),
    _OTHER_EXTERNAL_ID: ("external_id", "this user already has a different external id"),
    _ANOTHER_ROW: ("email", "another row of the file is already about this user"),
}


async def _reject(session: AsyncSession, outcome: BulkOutcome, condition: str, column: str, reason: str) -> int:
    """Staged rows `r` meeting `condition` (`[using ...] where ...`) become problems and leave the staging
    table; how many."""
    rows = (await session.execute(text(f"delete from {STAGE_TABLE} r {condition} returning r.row_no"))).all()
    outcome.problems.extend(RowProblem(row_no, column, reason) for (row_no,) in rows)
    return len(rows)


async def apply_staged(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    staged: int,
    dry_run: bool,
    invite: bool,
    deactivate_missing: bool,
    acting_user_id: UUID | None,
    progress: Callable[[int], Awaitable[None]] | None = None,
) -> BulkOutcome:
    """Match the `staged` rows to accounts (external id, then e-mail), refuse contradicting rows, then create,
    update and optionally deactivate accounts missing from the file. Idempotent: unchanged rows write nothing.
    A `dry_run` counts what those writes would change, with the same conditions, and writes no account.
    `progress` hears the percentage of the whole import reached (80 matched, 88 updated, 95 created)."""
    outcome = BulkOutcome()
    stage = STAGE_TABLE
    # Match by external id first, then by e-mail, in one pass over the tenant's users; rows that
    # contradict an account, or that are about an account an earlier row is already about, are marked.
    await session.execute(
        text(
            f"""
            update {stage} r set user_id = m.user_id, problem = m.problem
              from (select row_no, user_id,
                           case when problem is null and row_number() over (
                                     partition by user_id, problem is null order by row_no) > 1
                                then {_ANOTHER_ROW} else problem end as problem
                      from (select r.row_no, coalesce(ue.id, um.id) as user_id,
                                   case when ue.id is not null and um.id is not null and um.id <> ue.id
                                          then {_EMAIL_TAKEN}
                                        when ue.id is null and r.external_id is not null
                                             and um.external_id is not null and um.external_id <> r.external_id
                                          then {_OTHER_EXTERNAL_ID}
                                   end as problem
                              from {stage} r
                              left join users ue on ue.external_id = r.external_id
                              left join users um on lower(um.email) = r.email_key
                             where ue.id is not null or um.id is not null) matched) m
             where m.row_no = r.row_no
            """
        )
    )
    refused = await session.execute(text(f"delete from {stage} where problem is not null returning row_no, problem"))
    outcome.problems.extend(RowProblem(row_no, *_MATCH_PROBLEMS[problem]) for row_no, problem in refused)
    # Managers: in the tenant already, or in the file; never the person themselves.
    await _reject(
        session,
        outcome,
        "where r.manager_email = r.email_key",
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
        f"using {managers} g where g.email = r.manager_email and g.id is null",
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

    if progress is not None:
        await progress(80)
    now = clock.now()
    params: dict[str, Any] = {"tenant": tenant_id, "now": now}
    # Seats in use before any write (the tenant's users are scanned before they grow).
    seats, in_use = (
        await session.execute(
            text("select (select seats from tenants), count(*) from users where status <> 'deactivated'")
        )
    ).one()
    if deactivate_missing:
        # Before the inserts: only accounts that existed before the import can be missing from it.
        missing_from_file = f"""
                 where u.status <> 'deactivated'
                   and not (u.roles @> array['tenant_admin']::varchar[])
                   and u.id is distinct from :acting
                   and not exists (select 1 from {stage} r where r.user_id = u.id)
        """
        if dry_run:
            outcome.deactivated = int(
                await session.scalar(
                    text(f"select count(*) from users u {missing_from_file}"), {**params, "acting": acting_user_id}
                )
                or 0
            )
        else:
            deactivated = await session.execute(
                text(
                    "update users u set status = 'deactivated', tokens_revoked_at = :now, updated_at = :now "
                    f"{missing_from_file} returning u.id"
                ),
                {**params, "acting": acting_user_id},
            )
            gone = [row[0] for row in deactivated]
            outcome.deactivated = len(gone)
            if gone:
                await session.execute(
                    text(
                        "update refresh_tokens set revoked_at = :now where revoked_at is null and user_id = any(:ids)"
                    ),
                    {"now": now, "ids": gone},
                )
                # Billing frees their seats.
                for user_id in gone:
                    await release_seat_of(session, tenant_id, user_id)
    # Updates: only rows whose values differ, so a re-import of the same file writes nothing.
    changed_rows = f"""
                  {stage} r left join {managers} g on g.email = r.manager_email
                 where r.user_id = u.id
                   and (u.display_name, u.email, u.external_id, cast(u.roles as text[]), cast(u.groups as text[]),
                        u.locale, u.manager_id, u.attributes)
                       is distinct from
                       (r.display_name, r.email, coalesce(r.external_id, u.external_id),
                        coalesce(r.roles, cast(u.roles as text[])), coalesce(r.groups, cast(u.groups as text[])),
                        coalesce(r.locale, u.locale), coalesce(g.id, u.manager_id),
                        coalesce(u.attributes || r.attributes, u.attributes))
    """
    if dry_run:
        # The same rows the statements below would write, counted: a preview writes nothing, so it is
        # quick and leaves no dead row versions behind for the import that follows it.
        outcome.updated = int(await session.scalar(text(f"select count(*) from users u, {changed_rows}")) or 0)
        outcome.created = int(await session.scalar(text(f"select count(*) from {stage} where user_id is null")) or 0)
    else:
        updated: Any = await session.execute(
            text(
                f"""
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
                  from {changed_rows}
                """
            ),
            params,
        )
        outcome.updated = int(updated.rowcount)
        if progress is not None:
            await progress(88)
        # A manager who is new in this file is inserted by the same statement as the people they manage:
        # the foreign key is checked at the end of the statement.
        created: Any = await session.execute(
            text(
                f"""
                insert into users (id, tenant_id, email, display_name, status, roles, groups, external_id, locale,
                                   manager_id, attributes, mfa_enabled, created_at, updated_at)
                select r.new_id, :tenant, r.email, r.display_name, cast(:status as user_status),
                       coalesce(r.roles, array['learner']), coalesce(r.groups, '{{}}'), r.external_id, r.locale,
                       g.id, coalesce(r.attributes, '{{}}'::jsonb), false, :now, :now
                  from {stage} r left join {managers} g on g.email = r.manager_email
                 where r.user_id is null
                """
            ),
            {**params, "status": "invited" if invite else "active"},
        )
        outcome.created = int(created.rowcount)
        if progress is not None:
            await progress(95)
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
    # Every refused row left the staging table as one problem.
    outcome.unchanged = staged - len(outcome.problems) - outcome.created - outcome.updated
    # Deactivation and creation are the only changes of who holds a seat.
    outcome.seats = int(seats or 0)
    outcome.accounts_after = int(in_use) - outcome.deactivated + outcome.created
    outcome.problems.sort(key=lambda p: p.row_no)
    return outcome


async def staged_problem_rows(session: AsyncSession) -> Sequence[int]:
    return list(await session.scalars(text(f"select row_no from {STAGE_TABLE} order by row_no")))
