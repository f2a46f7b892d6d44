"""Catalogue (programs, courses, modules, lessons, versions; shared catalogue) and enrolment tables.

Revision ID: 0200
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0200"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = ("learning",)
depends_on: str | Sequence[str] | None = None

SHARED = "00000000-0000-0000-0000-000000000000"
OWNER_SQL = f"coalesce(tenant_id, '{SHARED}'::uuid)"

COURSE_STATUS = postgresql.ENUM("draft", "published", "archived", name="course_status", create_type=False)
DIFFICULTY = postgresql.ENUM("beginner", "intermediate", "advanced", name="course_difficulty", create_type=False)
LESSON_TYPE = postgresql.ENUM("video", "text", "quiz", "assignment", "file", name="lesson_type", create_type=False)
ENROLLMENT_STATUS = postgresql.ENUM(
    "active", "completed", "refunded", "expired", name="enrollment_status", create_type=False
)
ENROLLMENT_SOURCE = postgresql.ENUM("self", "admin", "group", name="enrollment_source", create_type=False)
PROGRESS_STATUS = postgresql.ENUM("in_progress", "completed", name="progress_status", create_type=False)
ENUMS = (COURSE_STATUS, DIFFICULTY, LESSON_TYPE, ENROLLMENT_STATUS, ENROLLMENT_SOURCE, PROGRESS_STATUS)

CATALOGUE_TABLES = ("programs", "courses", "modules", "lessons", "course_versions", "program_courses")
TENANT_TABLES = ("enrollments", "lesson_progress", "progress_events", "learning_outbox")


def _base() -> list[sa.Column[object]]:
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    ]


def _catalogue() -> list[sa.Column[object]]:
    return [
        *_base(),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("catalogue_owner", GUID(), sa.Computed(OWNER_SQL, persisted=True), nullable=False),
    ]


def _tenant() -> list[sa.Column[object]]:
    return [
        *_base(),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def _catalogue_indexes(table: str) -> None:
    op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
    op.create_index(f"ux_{table}_tenant_id_id", table, ["tenant_id", "id"], unique=True)
    op.create_index(f"ux_{table}_owner_id", table, ["catalogue_owner", "id"], unique=True)


def _owner_fk(table: str, parent: str, local: str = "catalogue_owner", column: str | None = None) -> None:
    column = column or parent.removesuffix("s") + "_id"
    op.create_foreign_key(
        f"fk_{table}_{column}",
        table,
        parent,
        [local, column],
        ["catalogue_owner", "id"],
        ondelete="CASCADE",
    )


def upgrade() -> None:
    for enum_type in ENUMS:
        enum_type.create(op.get_bind(), checkfirst=True)

    op.create_table(
        "programs",
        *_catalogue(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", COURSE_STATUS, nullable=False, server_default="draft"),
    )
    _catalogue_indexes("programs")
    op.create_index("ux_programs_owner_slug", "programs", ["catalogue_owner", "slug"], unique=True)

    op.create_table(
        "courses",
        *_catalogue(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(120), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("category", sa.String(80), nullable=True),
        sa.Column("difficulty", DIFFICULTY, nullable=False, server_default="beginner"),
        sa.Column("language", sa.String(16), nullable=False, server_default="en"),
        sa.Column("tags", postgresql.ARRAY(sa.String(50)), nullable=False, server_default="{}"),
        sa.Column("price_cents", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
        sa.Column(
            "instructor_ids", postgresql.ARRAY(postgresql.UUID(as_uuid=True)), nullable=False, server_default="{}"
        ),
        sa.Column("status", COURSE_STATUS, nullable=False, server_default="draft"),
        sa.Column("publish_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("self_enrollment", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("completion_rules", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("current_version_id", GUID(), nullable=True),
        sa.Column("enrollment_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("search_vector", postgresql.TSVECTOR(), nullable=True),
        sa.CheckConstraint("price_cents >= 0", name="ck_courses_price"),
    )
    _catalogue_indexes("courses")
    op.create_index("ux_courses_owner_slug", "courses", ["catalogue_owner", "slug"], unique=True)
    op.create_index("ix_courses_search_vector", "courses", ["search_vector"], postgresql_using="gin")
    op.create_index("ix_courses_tags", "courses", ["tags"], postgresql_using="gin")
    op.create_index("ix_courses_instructor_ids", "courses", ["instructor_ids"], postgresql_using="gin")
    op.create_index("ix_courses_owner_status", "courses", ["catalogue_owner", "status", "created_at"])
    # Weighted document for full-text search; a trigger so bulk loads and every writer keep it right.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION app.courses_search_vector_update() RETURNS trigger
            LANGUAGE plpgsql
        AS $$
        BEGIN
            NEW.search_vector :=
                setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
                setweight(to_tsvector('english', coalesce(NEW.summary, '')), 'B') ||
                setweight(to_tsvector('english', array_to_string(coalesce(NEW.tags, '{}'), ' ')), 'B') ||
                setweight(to_tsvector('english', coalesce(NEW.description, '')), 'C');
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER courses_search_vector_update BEFORE INSERT OR UPDATE OF title, summary, description, tags "
        "ON courses FOR EACH ROW EXECUTE FUNCTION app.courses_search_vector_update()"
    )
    # Typo tolerance needs pg_trgm; builds of PostgreSQL without it (the embedded one) fall back
    # to prefix matching in lms.catalog.services.search.
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
                CREATE EXTENSION IF NOT EXISTS pg_trgm;
                CREATE INDEX IF NOT EXISTS ix_courses_title_trgm ON courses USING gin (lower(title) gin_trgm_ops);
            END IF;
        END
        $$
        """
    )

    op.create_table(
        "modules",
        *_catalogue(),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("prerequisites", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.UniqueConstraint(
            "course_id", "position", name="uq_modules_course_position", deferrable=True, initially="DEFERRED"
        ),
    )
    _catalogue_indexes("modules")
    _owner_fk("modules", "courses")

    op.create_table(
        "lessons",
        *_catalogue(),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("module_id", GUID(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("type", LESSON_TYPE, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("content", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("media_asset_id", GUID(), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False, server_default="true"),
        sa.UniqueConstraint(
            "module_id", "position", name="uq_lessons_module_position", deferrable=True, initially="DEFERRED"
        ),
    )
    _catalogue_indexes("lessons")
    op.create_index("ix_lessons_course_id", "lessons", ["course_id"])
    _owner_fk("lessons", "modules")
    _owner_fk("lessons", "courses")

    op.create_table(
        "course_versions",
        *_catalogue(),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(), nullable=False),
        sa.Column("published_by", GUID(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.UniqueConstraint("course_id", "number", name="uq_course_versions_course_number"),
    )
    _catalogue_indexes("course_versions")
    _owner_fk("course_versions", "courses")

    op.create_table(
        "program_courses",
        *_catalogue(),
        sa.Column("program_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("course_owner", GUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("program_id", "course_id", name="uq_program_courses_program_course"),
        sa.UniqueConstraint(
            "program_id", "position", name="uq_program_courses_position", deferrable=True, initially="DEFERRED"
        ),
        sa.CheckConstraint(
            f"course_owner = catalogue_owner OR course_owner = '{SHARED}'::uuid",
            name="ck_program_courses_course_owner",
        ),
    )
    _catalogue_indexes("program_courses")
    _owner_fk("program_courses", "programs")
    _owner_fk("program_courses", "courses", local="course_owner")

    op.create_table(
        "enrollments",
        *_tenant(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("course_owner", GUID(), nullable=False),
        sa.Column("version_id", GUID(), nullable=True),
        sa.Column("status", ENROLLMENT_STATUS, nullable=False, server_default="active"),
        sa.Column("source", ENROLLMENT_SOURCE, nullable=False, server_default="self"),
        sa.Column("assigned_by", GUID(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completion_pct", sa.Float(), nullable=False, server_default="0"),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_lesson_id", GUID(), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_owner", "course_id"], ["courses.catalogue_owner", "courses.id"]),
        sa.ForeignKeyConstraint(
            ["course_owner", "version_id"], ["course_versions.catalogue_owner", "course_versions.id"]
        ),
        sa.CheckConstraint(
            f"course_owner = tenant_id OR course_owner = '{SHARED}'::uuid", name="ck_enrollments_course_owner"
        ),
        sa.CheckConstraint("completion_pct >= 0 AND completion_pct <= 100", name="ck_enrollments_completion_pct"),
    )
    op.create_index("ix_enrollments_tenant_id", "enrollments", ["tenant_id"])
    op.create_index("ux_enrollments_tenant_id_id", "enrollments", ["tenant_id", "id"], unique=True)
    op.create_index("ux_enrollments_user_course", "enrollments", ["tenant_id", "user_id", "course_id"], unique=True)
    op.create_index("ix_enrollments_course", "enrollments", ["tenant_id", "course_id"])

    op.create_table(
        "lesson_progress",
        *_tenant(),
        sa.Column("enrollment_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("lesson_id", GUID(), nullable=False),
        sa.Column("lesson_owner", GUID(), nullable=False),
        sa.Column("status", PROGRESS_STATUS, nullable=False, server_default="in_progress"),
        sa.Column("watched_ranges", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("watched_seconds", sa.Float(), nullable=False, server_default="0"),
        sa.Column("scroll_depth", sa.Float(), nullable=False, server_default="0"),
        sa.Column("position_seconds", sa.Float(), nullable=False, server_default="0"),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "enrollment_id"], ["enrollments.tenant_id", "enrollments.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["lesson_owner", "lesson_id"], ["lessons.catalogue_owner", "lessons.id"], ondelete="CASCADE"
        ),
        sa.CheckConstraint(
            f"lesson_owner = tenant_id OR lesson_owner = '{SHARED}'::uuid", name="ck_lesson_progress_lesson_owner"
        ),
    )
    op.create_index("ix_lesson_progress_tenant_id", "lesson_progress", ["tenant_id"])
    op.create_index("ux_lesson_progress_tenant_id_id", "lesson_progress", ["tenant_id", "id"], unique=True)
    op.create_index(
        "ux_lesson_progress_user_lesson", "lesson_progress", ["tenant_id", "user_id", "lesson_id"], unique=True
    )
    op.create_index("ix_lesson_progress_enrollment", "lesson_progress", ["tenant_id", "enrollment_id"])

    op.create_table(
        "progress_events",
        *_tenant(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("client_event_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lesson_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_progress_events_tenant_id", "progress_events", ["tenant_id"])
    op.create_index(
        "ux_progress_events_client_id", "progress_events", ["tenant_id", "user_id", "client_event_id"], unique=True
    )

    op.create_table(
        "learning_outbox",
        *_tenant(),
        sa.Column("enrollment_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("milestone", sa.Integer(), nullable=True),
        sa.Column("payload", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "enrollment_id"], ["enrollments.tenant_id", "enrollments.id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_learning_outbox_tenant_id", "learning_outbox", ["tenant_id"])
    op.create_index("ux_learning_outbox_dedupe", "learning_outbox", ["tenant_id", "dedupe_key"], unique=True)
    op.create_index(
        "ix_learning_outbox_pending",
        "learning_outbox",
        ["tenant_id", "created_at"],
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )

    # The operator role curates the shared catalogue (tenant_id NULL); lms_app writes only its own rows.
    op.execute(f"GRANT INSERT, UPDATE, DELETE ON {', '.join(CATALOGUE_TABLES)} TO lms_operator")

    # policies/catalog.sql
    for table in CATALOGUE_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (tenant_id = (select app.current_tenant())) "
            "WITH CHECK (tenant_id = (select app.current_tenant()))"
        )
        op.execute(
            f"CREATE POLICY shared_catalogue_read ON {table} FOR SELECT "
            "USING (tenant_id IS NULL AND (select app.current_tenant()) IS NOT NULL)"
        )
    # policies/learning.sql
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (tenant_id = (select app.current_tenant())) "
            "WITH CHECK (tenant_id = (select app.current_tenant()))"
        )


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
    for table in reversed(CATALOGUE_TABLES):
        op.drop_table(table)
    op.execute("DROP FUNCTION IF EXISTS app.courses_search_vector_update()")
    for enum_type in reversed(ENUMS):
        enum_type.drop(op.get_bind(), checkfirst=True)
