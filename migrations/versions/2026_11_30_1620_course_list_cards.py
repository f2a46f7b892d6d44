"""`courses.list_card`: each course's catalogue card (`CourseListItem`) as the JSON the API answers,
kept by a trigger on every write of a field the card shows (and on the enrolment count's bumps).

A page of `GET /api/v1/courses` then reads one value per course instead of nineteen, and the API
joins the cards instead of decoding every field into Python and encoding it back. The card is part
of the row, written in the same transaction as the fields it shows: never stale, under the same RLS.
`app.json_instant` writes an instant as the API's encoder does (UTC, `Z`, microseconds only when
there are any), so a card is byte for byte the JSON of the struct (tests/integration/catalog).

Revision ID: 1620
Revises: 1615
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1620"
down_revision: str | None = "1615"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The fields a card shows; a write that sets none of them leaves the card as it is.
CARD_COLUMNS = (
    "id, tenant_id, title, slug, summary, category, difficulty, language, tags, price_cents, currency, "
    "instructor_ids, status, publish_at, self_enrollment, current_version_id, enrollment_count, created_at, "
    "cover_name"
)

JSON_INSTANT = """
CREATE OR REPLACE FUNCTION app.json_instant(t timestamptz) RETURNS text
    LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN t IS NULL THEN 'null' ELSE
        '"' || to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_trunc('second', t) = t THEN '' ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
        || 'Z"'
    END
$$;
"""

# Field order and names are CourseListItem's (lms.catalog.schemas).
LIST_CARD = """
CREATE OR REPLACE FUNCTION app.courses_list_card_update() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    version_number integer;
BEGIN
    IF NEW.current_version_id IS NOT NULL THEN
        SELECT v.number INTO version_number FROM course_versions AS v WHERE v.id = NEW.current_version_id;
    END IF;
    NEW.list_card := convert_to(
        '{"id":' || to_json(NEW.id)::text
        || ',"title":' || to_json(NEW.title)::text
        || ',"slug":' || to_json(NEW.slug)::text
        || ',"summary":' || to_json(NEW.summary)::text
        || ',"category":' || coalesce(to_json(NEW.category)::text, 'null')
        || ',"difficulty":' || to_json(NEW.difficulty)::text
        || ',"language":' || to_json(NEW.language)::text
        || ',"tags":' || to_json(NEW.tags)::text
        || ',"price_cents":' || NEW.price_cents::text
        || ',"currency":' || to_json(NEW.currency)::text
        || ',"instructor_ids":' || to_json(NEW.instructor_ids)::text
        || ',"status":' || to_json(NEW.status)::text
        || ',"publish_at":' || app.json_instant(NEW.publish_at)
        || ',"self_enrollment":' || to_json(NEW.self_enrollment)::text
        || ',"shared":' || to_json(NEW.tenant_id IS NULL)::text
        || ',"current_version":' || coalesce(version_number::text, 'null')
        || ',"enrollment_count":' || NEW.enrollment_count::text
        || ',"created_at":' || app.json_instant(NEW.created_at)
        || ',"cover_url":'
        || coalesce(to_json('/courses/' || NEW.id || '/cover/' || nullif(NEW.cover_name, ''))::text, 'null')
        || '}',
        'UTF8'
    );
    RETURN NEW;
END
$$;
"""


def upgrade() -> None:
    op.add_column("courses", sa.Column("list_card", sa.LargeBinary(), nullable=True))
    op.execute(JSON_INSTANT)
    op.execute(LIST_CARD)
    op.execute(
        f"CREATE TRIGGER courses_list_card_update BEFORE INSERT OR UPDATE OF {CARD_COLUMNS} "
        "ON courses FOR EACH ROW EXECUTE FUNCTION app.courses_list_card_update()"
    )
    op.execute("UPDATE courses SET id = id")  # the owner (BYPASSRLS) writes every tenant's cards
    op.alter_column("courses", "list_card", nullable=False)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS courses_list_card_update ON courses")
    op.execute("DROP FUNCTION IF EXISTS app.courses_list_card_update()")
    op.execute("DROP FUNCTION IF EXISTS app.json_instant(timestamptz)")
    op.drop_column("courses", "list_card")
