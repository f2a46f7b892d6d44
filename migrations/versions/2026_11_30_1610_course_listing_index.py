"""The course list in index order: `ix_courses_listing` (tenant_id, created_at DESC, id) with status and
publish_at included, so a page of a tenant's courses is the first entries of one index scan (no sort
of every visible course), and its total an index-only count (no read of the wide rows).

Revision ID: 1610
Revises: 1600
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1610"
down_revision: str | None = "1600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_courses_listing",
        "courses",
        ["tenant_id", sa.text("created_at DESC"), "id"],
        postgresql_include=["status", "publish_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_courses_listing", table_name="courses")
