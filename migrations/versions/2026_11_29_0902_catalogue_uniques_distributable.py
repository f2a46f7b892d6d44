"""Catalogue unique keys lead with catalogue_owner, the catalogue's distribution column.

Positions and version numbers stay unique per course, module and program (their ids are unique
anyway); the keys now also hold on a Citus cluster where each owner's rows live on one shard.

Revision ID: 0902
Revises: 0901
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0902"
down_revision: str | None = "0901"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0200"  # the catalogue tables

# (table, constraint, old columns, deferrable)
KEYS = [
    ("modules", "uq_modules_course_position", ["course_id", "position"], True),
    ("lessons", "uq_lessons_module_position", ["module_id", "position"], True),
    ("course_versions", "uq_course_versions_course_number", ["course_id", "number"], False),
    ("program_courses", "uq_program_courses_program_course", ["program_id", "course_id"], False),
    ("program_courses", "uq_program_courses_position", ["program_id", "position"], True),
]


def _create(table: str, name: str, columns: list[str], deferrable: bool) -> None:
    op.create_unique_constraint(
        name, table, columns, deferrable=deferrable or None, initially="DEFERRED" if deferrable else None
    )


def upgrade() -> None:
    for table, name, columns, deferrable in KEYS:
        op.drop_constraint(name, table, type_="unique")
        _create(table, name, ["catalogue_owner", *columns], deferrable)


def downgrade() -> None:
    for table, name, columns, deferrable in KEYS:
        op.drop_constraint(name, table, type_="unique")
        _create(table, name, columns, deferrable)
