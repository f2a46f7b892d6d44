"""Every tenant table can be distributed by its tenant (Citus, docs/capacity.md): its unique keys and
foreign keys include the distribution column, so no key ever spans two shards.

The distribution column is `tenant_id`; catalogue tables (a tenant's own rows, or the platform's shared
ones) distribute on `catalogue_owner`, which is the tenant or the shared catalogue's owner.
"""

from __future__ import annotations

import pytest
from sqlalchemy import ForeignKeyConstraint, Table, UniqueConstraint

import lms.models  # noqa: F401 - every domain's tables
from lms.db.base import Base

# Platform-wide lookups that are read without a tenant: Citus reference tables (copied to every node).
REFERENCE_TABLES = {
    "tenant_domains": "a host name maps to one tenant platform-wide; the resolver reads it before a tenant is known",
}
# Foreign keys into the shared catalogue: a tenant's row may point at a platform-shared course or
# lesson (owner = the shared catalogue). The shared catalogue is small and read-mostly; on Citus its
# rows are a reference table, and these keys point into it.
SHARED_CATALOGUE_KEYS = {
    ("lesson_progress", ("lesson_owner", "lesson_id"), "lessons"),
    ("shared_course_offers", ("shared_owner", "course_id"), "courses"),
}
# Primary keys that are still `(id)` alone (a UUIDv7, unique by itself). Citus needs the distribution
# column in the primary key: the swap to `(tenant_id, id)` is one DDL step per table at distribution
# time (docs/capacity.md). This list may only shrink: a new table needs a distributable key from the start.
PRIMARY_KEY_IS_ID_ALONE = {
    "action_tokens", "admin_audit_log", "assessment_outbox", "assignment_submissions", "assignments",
    "certificate_policies",
    "certificate_settings", "certificates", "course_versions", "courses", "email_outbox", "enrollments",
    "identity_settings", "learning_outbox", "lesson_progress", "lessons", "media_assets", "media_captions",
    "media_playback_events", "media_renditions", "media_uploads", "mfa_recovery_codes", "modules", "peer_reviews",
    "program_courses", "programs", "progress_dead_letters", "progress_events", "question_banks", "questions",
    "quiz_attempts", "quizzes", "refresh_tokens", "saml_assertions_seen", "scim_tokens", "shared_course_offers",
    "sso_identities", "sso_providers", "submission_versions", "user_groups", "users",
    # Tables of the admin console, billing, engagement, studio analytics and transcripts, built on the same
    # base as the rest before this rule existed; they take the same one-step swap.
    "analytics_course_days", "analytics_learners", "analytics_lesson_stats", "analytics_rollup_marks",
    "billing_accounts", "billing_audit_log", "billing_course_purchases", "billing_seat_snapshots",
    "billing_webhook_events", "course_discussion_settings", "course_similarities", "discussion_follows",
    "discussion_posts", "discussion_reports", "discussion_threads", "discussion_votes", "learning_goals",
    "media_transcript_cues", "notification_preferences", "notifications", "org_groups", "user_imports",
}  # fmt: skip


def tenant_tables() -> list[Table]:
    return sorted(
        (t for t in Base.metadata.tables.values() if "tenant_id" in t.c and t.name not in REFERENCE_TABLES),
        key=lambda t: t.name,
    )


def distribution_column(table: Table) -> str:
    return "catalogue_owner" if "catalogue_owner" in table.c else "tenant_id"


def unique_keys(table: Table) -> list[tuple[str, list[str]]]:
    keys = [
        (c.name or "?", [col.name for col in c.columns]) for c in table.constraints if isinstance(c, UniqueConstraint)
    ]
    keys += [(i.name or "?", [col.name for col in i.columns]) for i in table.indexes if i.unique]
    keys += [(f"{table.name}.{col.name}", [col.name]) for col in table.columns if col.unique]
    return keys


@pytest.mark.parametrize("table", tenant_tables(), ids=lambda t: t.name)
def test_unique_keys_include_the_distribution_column(table: Table) -> None:
    column = distribution_column(table)
    spanning = [name for name, columns in unique_keys(table) if column not in columns and "tenant_id" not in columns]
    assert spanning == [], f"{table.name}: unique keys without {column}: {spanning}"


@pytest.mark.parametrize("table", tenant_tables(), ids=lambda t: t.name)
def test_foreign_keys_include_the_distribution_column(table: Table) -> None:
    spanning = []
    for constraint in table.constraints:
        if not isinstance(constraint, ForeignKeyConstraint):
            continue
        referred = constraint.referred_table
        columns = tuple(col.name for col in constraint.columns)
        if referred.name == "tenants" or "tenant_id" not in referred.c:
            continue  # to the tenant itself, or to a platform table (a reference table under Citus)
        if (table.name, columns, referred.name) in SHARED_CATALOGUE_KEYS or referred.name in REFERENCE_TABLES:
            continue
        target_column = distribution_column(referred)
        targets = [element.column.name for element in constraint.elements]
        if target_column not in targets and "tenant_id" not in targets:
            spanning.append(f"{columns} -> {referred.name}{tuple(targets)}")
    assert spanning == [], f"{table.name}: foreign keys that could cross tenants' shards: {spanning}"


@pytest.mark.parametrize("table", tenant_tables(), ids=lambda t: t.name)
def test_primary_keys_include_the_distribution_column_or_are_listed_for_the_swap(table: Table) -> None:
    column = distribution_column(table)
    primary = [col.name for col in table.primary_key.columns]
    if table.name in PRIMARY_KEY_IS_ID_ALONE:
        assert primary == ["id"], f"{table.name} has a new primary key: take it off PRIMARY_KEY_IS_ID_ALONE"
        return
    assert column in primary or "tenant_id" in primary, f"{table.name}: primary key {primary} without {column}"


def test_the_lists_name_only_existing_tables() -> None:
    names = set(Base.metadata.tables)
    assert set(REFERENCE_TABLES) <= names
    assert names >= PRIMARY_KEY_IS_ID_ALONE
    assert {table for table, _, _ in SHARED_CATALOGUE_KEYS} <= names
