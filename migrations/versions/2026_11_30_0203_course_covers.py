"""Course cover images: the stored image's name (content-derived; the file lives in object storage).

Revision ID: 0203
Revises: 0202
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0203"
down_revision: str | None = "0202"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("courses", sa.Column("cover_name", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("courses", "cover_name")
