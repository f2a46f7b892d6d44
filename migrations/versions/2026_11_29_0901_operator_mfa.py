"""Operators sign in to the console with a second factor: their TOTP secret (encrypted).

Revision ID: 0901
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0901"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Fernet ciphertext of the TOTP secret under SECRET_KEY; null until the operator enrols.
    op.add_column("operators", sa.Column("mfa_secret", sa.Text(), nullable=True))
    op.add_column("operators", sa.Column("mfa_enrolled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("operators", "mfa_enrolled_at")
    op.drop_column("operators", "mfa_secret")
