"""The daily seat snapshot also records the tenant's media storage, so operators see storage over time.

Revision ID: 1430
Revises: 0700
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1430"
down_revision: str | None = "0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null on the days recorded before storage was: unknown, not zero.
    op.add_column("billing_seat_snapshots", sa.Column("storage_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("billing_seat_snapshots", "storage_bytes")
