"""Lessons point at media assets of their own tenant (tenant-inclusive foreign key).

Revision ID: 0301
Revises: 0300
Depends on: 0200 (the learning domain's lessons table)
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0301"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0200"


def upgrade() -> None:
    op.create_index("ix_lessons_tenant_media_asset", "lessons", ["tenant_id", "media_asset_id"])
    # Deleting an asset clears only the lesson's media_asset_id (never its tenant_id); shared
    # catalogue lessons (tenant_id NULL) are not checked, as MATCH SIMPLE skips rows with a NULL.
    op.execute(
        "ALTER TABLE lessons ADD CONSTRAINT fk_lessons_tenant_media_asset "
        "FOREIGN KEY (tenant_id, media_asset_id) REFERENCES media_assets (tenant_id, id) "
        "ON DELETE SET NULL (media_asset_id)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE lessons DROP CONSTRAINT fk_lessons_tenant_media_asset")
    op.drop_index("ix_lessons_tenant_media_asset", table_name="lessons")
