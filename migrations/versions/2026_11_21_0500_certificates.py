"""Certificates, certificate policies per course and certificate settings per tenant.

Revision ID: 0500
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0500"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = ("certificates",)
# Certificates reference enrolments, users and courses of the learning domain.
depends_on: str | Sequence[str] | None = "0200"

TABLES = ("certificates", "certificate_policies", "certificate_settings")
STATE = postgresql.ENUM("active", "revoked", "superseded", name="certificate_state", create_type=False)


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def _rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def upgrade() -> None:
    STATE.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "certificates",
        *_columns(),
        sa.Column("enrollment_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("course_owner", GUID(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("learner_name", sa.String(200), nullable=False),
        sa.Column("course_title", sa.String(200), nullable=False),
        sa.Column("tenant_name", sa.String(200), nullable=False),
        sa.Column("issued_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("state", STATE, nullable=False, server_default="active"),
        sa.Column("revoked_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("superseded_by", GUID(), nullable=True),
        sa.Column("pdf_key", sa.String(300), nullable=True),
        sa.Column("rendered_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("credential", postgresql.JSONB(), nullable=True),
        sa.Column("reminder_sent_at", DateTimeUTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "enrollment_id"], ["enrollments.tenant_id", "enrollments.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_owner", "course_id"], ["courses.catalogue_owner", "courses.id"]),
        sa.CheckConstraint("generation >= 1", name="ck_certificates_generation"),
    )
    op.create_index("ix_certificates_tenant_id", "certificates", ["tenant_id"])
    op.create_index("ux_certificates_tenant_id_id", "certificates", ["tenant_id", "id"], unique=True)
    op.create_index(
        "ux_certificates_enrollment_generation",
        "certificates",
        ["tenant_id", "enrollment_id", "generation"],
        unique=True,
    )
    op.create_index("ix_certificates_user", "certificates", ["tenant_id", "user_id", "issued_at"])
    op.create_index(
        "ix_certificates_expiry",
        "certificates",
        ["tenant_id", "expires_at"],
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )

    op.create_table(
        "certificate_policies",
        *_columns(),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("course_owner", GUID(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("compliance", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("remind_days_before", sa.Integer(), nullable=False, server_default="30"),
        sa.ForeignKeyConstraint(
            ["course_owner", "course_id"], ["courses.catalogue_owner", "courses.id"], ondelete="CASCADE"
        ),
        sa.CheckConstraint("valid_days IS NULL OR valid_days > 0", name="ck_certificate_policies_valid_days"),
        sa.CheckConstraint("remind_days_before >= 0", name="ck_certificate_policies_remind_days"),
    )
    op.create_index("ix_certificate_policies_tenant_id", "certificate_policies", ["tenant_id"])
    op.create_index("ux_certificate_policies_tenant_id_id", "certificate_policies", ["tenant_id", "id"], unique=True)
    op.create_index("ux_certificate_policies_course", "certificate_policies", ["tenant_id", "course_id"], unique=True)

    op.create_table(
        "certificate_settings",
        *_columns(),
        sa.Column("signatory_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("signatory_title", sa.String(200), nullable=False, server_default=""),
        sa.Column("signature_image", sa.Text(), nullable=True),
        sa.Column("paper", sa.String(8), nullable=False, server_default="A4"),
    )
    op.create_index("ix_certificate_settings_tenant_id", "certificate_settings", ["tenant_id"])
    op.create_index("ux_certificate_settings_tenant", "certificate_settings", ["tenant_id"], unique=True)

    for table in TABLES:
        _rls(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    STATE.drop(op.get_bind(), checkfirst=True)
