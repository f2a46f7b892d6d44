"""Every tenant table's primary key holds its distribution column: `(tenant_id, id)`, and
`(catalogue_owner, id)` on the catalogue (docs/capacity.md, the Citus path).

Where a unique index on exactly those columns already exists (the target of the tables' composite
foreign keys), it becomes the primary key as it is (`PRIMARY KEY USING INDEX`): no index is built, the
foreign keys that use it keep it, and the table carries one index fewer. Elsewhere the key is rebuilt.
A foreign key that relies on the old `(id)` key (none in this schema; looked up in `pg_constraint`, so
none can be missed) is dropped first and added back against the new key. The privacy tables, built keyed
`(id, tenant_id)`, now lead with `tenant_id` like the rest; `training_rules`, built keyed
`(tenant_id, id)`, loses its duplicate unique index. Primary keys keep the names of the naming convention
(`pk_<table>`).

The single-column `ix_<table>_tenant_id` index goes where the key now leads with `tenant_id`: the key's
index serves the same scans, and every write maintains one index fewer. The catalogue keeps it (its key
leads with `catalogue_owner`), and its tables get an index on `id` alone in place of the old key's:
their read policy (own rows OR shared rows) is an OR on `tenant_id` that neither composite index can
combine with a join on `id`, so a join to a course or a lesson would otherwise read all of the tenant's.

The tables are locked while their key changes (a few seconds for millions of rows, where a key is
rebuilt); run it before distributing the tables, in the maintenance window that moves to Citus.

Revision ID: 1500
Revises: 0006, 0106, 0107, 0109, 0203, 0302, 0500, 0603, 0700, 0902, 1100, 1200, 1300
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1500"
down_revision: str | Sequence[str] | None = (
    "0006",
    "0106",
    "0107",
    "0109",
    "0203",
    "0302",
    "0500",
    "0603",
    "0902",
    "1200",
    "1410",
    "1420",
    "1430",
    "1440",
)
# The heads before it; 0400, 0700, 0800, 1100 and 1300 come in through the revisions that depend on them. The tables of
# 1410, 1420 and 1440 were created with (tenant_id, id) keys; only their tenant_id index goes here.
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATALOGUE = ("programs", "courses", "modules", "lessons", "course_versions", "program_courses")
TENANT = (
    "action_tokens",
    "admin_audit_log",
    "analytics_course_days",
    "analytics_learners",
    "analytics_lesson_stats",
    "analytics_rollup_marks",
    "assessment_outbox",
    "assignment_submissions",
    "assignments",
    "billing_accounts",
    "billing_audit_log",
    "billing_course_purchases",
    "billing_seat_snapshots",
    "billing_webhook_events",
    "certificate_policies",
    "certificate_settings",
    "certificates",
    "course_discussion_settings",
    "course_similarities",
    "discussion_follows",
    "discussion_posts",
    "discussion_reports",
    "discussion_threads",
    "discussion_votes",
    "email_outbox",
    "enrollments",
    "identity_settings",
    "learning_goals",
    "learning_outbox",
    "lesson_progress",
    "media_assets",
    "media_captions",
    "media_playback_events",
    "media_renditions",
    "media_transcript_cues",
    "media_uploads",
    "mfa_recovery_codes",
    "notification_preferences",
    "notifications",
    "org_groups",
    "peer_reviews",
    "progress_dead_letters",
    "progress_events",
    "question_banks",
    "questions",
    "quiz_attempts",
    "quizzes",
    "refresh_tokens",
    "saml_assertions_seen",
    "scim_tokens",
    "shared_course_offers",
    "sso_identities",
    "sso_providers",
    "submission_versions",
    "user_groups",
    "user_imports",
    "users",
)
# Keyed `(id, tenant_id)` when built: the key is reordered.
ID_FIRST = ("privacy_exports", "privacy_erasures", "privacy_settings")
# Unique indexes on exactly (distribution column, id) that become the primary key; downgrade builds them again.
PROMOTED = {
    **{table: f"ux_{table}_owner_id" for table in CATALOGUE},
    **{
        table: f"ux_{table}_tenant_id_id"
        for table in (
            "assignment_submissions",
            "assignments",
            "certificate_policies",
            "certificates",
            "discussion_posts",
            "discussion_threads",
            "enrollments",
            "lesson_progress",
            "media_assets",
            "media_uploads",
            "org_groups",
            "peer_reviews",
            "question_banks",
            "questions",
            "quiz_attempts",
            "quizzes",
            "sso_providers",
            "submission_versions",
            "user_imports",
            "users",
        )
    },
}


# Tables whose key leads with tenant_id after the swap, and that carry an index on tenant_id alone.
CREATED_WITH_THE_KEY = (
    "compliance_sync_requests",
    "analytics_video_buckets",
    "analytics_video_viewers",
    "analytics_video_quality",
    "analytics_video_marks",
    "billing_overage_charges",
)
TENANT_INDEXED = tuple(
    table for table in (*TENANT, *ID_FIRST, "training_rules", *CREATED_WITH_THE_KEY) if table != "identity_settings"
)  # identity_settings has a unique index on tenant_id instead (one row per tenant)


def _distribution_column(table: str) -> str:
    return "catalogue_owner" if table in CATALOGUE else "tenant_id"


def _primary_key(table: str) -> tuple[str, list[str]]:
    """The table's primary key: its name and columns in key order."""
    row = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT c.conname, array_agg(a.attname ORDER BY k.ord) "
                "FROM pg_constraint c "
                "CROSS JOIN unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) "
                "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
                "WHERE c.conrelid = CAST(:table AS regclass) AND c.contype = 'p' GROUP BY c.conname"
            ),
            {"table": table},
        )
        .one()
    )
    return row[0], list(row[1])


def _drop_foreign_keys_on_key(table: str, key: str) -> list[tuple[str, str, str]]:
    """Drop the foreign keys that rely on the index of `table`'s key `key`; return them to be added back."""
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT fk.conrelid::regclass::text, fk.conname, pg_get_constraintdef(fk.oid) "
                "FROM pg_constraint fk JOIN pg_constraint pk ON pk.conindid = fk.conindid "
                "WHERE fk.contype = 'f' AND pk.conrelid = CAST(:table AS regclass) AND pk.conname = :key"
            ),
            {"table": table, "key": key},
        )
        .all()
    )
    for owner, name, _definition in rows:
        op.execute(f'ALTER TABLE {owner} DROP CONSTRAINT "{name}"')
    return [(owner, name, definition) for owner, name, definition in rows]


def _add_back(foreign_keys: list[tuple[str, str, str]]) -> None:
    for owner, name, definition in foreign_keys:
        op.execute(f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}')


def _swap(table: str) -> None:
    column = _distribution_column(table)
    name, columns = _primary_key(table)
    if columns[0] == column:
        return
    foreign_keys = _drop_foreign_keys_on_key(table, name)
    op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    promoted = PROMOTED.get(table)
    if promoted is not None:
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "pk_{table}" PRIMARY KEY USING INDEX "{promoted}"')
    else:
        # A partitioned table's key also holds its partition key: every other column of the old key stays.
        new_columns = ", ".join([column, *(c for c in columns if c != column)])
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "pk_{table}" PRIMARY KEY ({new_columns})')
    _add_back(foreign_keys)


def _restore(table: str) -> None:
    column = _distribution_column(table)
    name, columns = _primary_key(table)
    if columns[0] != column:
        return
    foreign_keys = _drop_foreign_keys_on_key(table, name)
    # `(id)`, and a partitioned table's partition key; the privacy tables' `(id, tenant_id)`.
    old_columns = ["id", *(c for c in columns if c not in (column, "id")), *([column] if table in ID_FIRST else [])]
    keyed = ", ".join(old_columns)
    op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}", ADD CONSTRAINT "pk_{table}" PRIMARY KEY ({keyed})')
    promoted = PROMOTED.get(table)
    if promoted is not None:
        op.execute(f'CREATE UNIQUE INDEX "{promoted}" ON {table} ({column}, id)')
    _add_back(foreign_keys)


def upgrade() -> None:
    for table in (*CATALOGUE, *TENANT, *ID_FIRST):
        _swap(table)
    for table in CATALOGUE:
        op.execute(f'CREATE INDEX "ix_{table}_id" ON {table} (id)')
    op.execute('ALTER TABLE training_rules RENAME CONSTRAINT "training_rules_pkey" TO "pk_training_rules"')
    op.execute('DROP INDEX "ux_training_rules_tenant_id_id"')
    for table in TENANT_INDEXED:
        op.execute(f'DROP INDEX "ix_{table}_tenant_id"')


def downgrade() -> None:
    for table in CATALOGUE:
        op.execute(f'DROP INDEX "ix_{table}_id"')
    for table in TENANT_INDEXED:
        op.execute(f'CREATE INDEX "ix_{table}_tenant_id" ON {table} (tenant_id)')
    op.execute('CREATE UNIQUE INDEX "ux_training_rules_tenant_id_id" ON training_rules (tenant_id, id)')
    op.execute('ALTER TABLE training_rules RENAME CONSTRAINT "pk_training_rules" TO "training_rules_pkey"')
    for table in (*CATALOGUE, *TENANT, *ID_FIRST):
        _restore(table)
