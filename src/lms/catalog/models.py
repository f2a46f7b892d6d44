"""Catalogue tables: programs -> courses -> modules -> lessons, and published course versions.

Catalogue rows belong to a tenant (`tenant_id` set) or to the platform-shared catalogue
(`tenant_id` NULL, written only by the operator role, readable by every tenant through a separate
SELECT-only policy). `catalogue_owner` is `tenant_id` with NULL mapped to the all-zero uuid, so a
foreign key on `(catalogue_owner, parent_id)` keeps a tenant's rows inside that tenant and shared
rows inside the shared catalogue, and lets tenant rows (enrolments) point at shared courses.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from lms.db.base import Base, TenantScoped, distribution_key, identified_by_id

SHARED_CATALOGUE_OWNER = UUID(int=0)
"""`catalogue_owner` of platform-shared rows (their `tenant_id` is NULL)."""

_OWNER_SQL = "coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class CourseStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Difficulty(enum.StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class LessonType(enum.StrEnum):
    VIDEO = "video"
    TEXT = "text"
    QUIZ = "quiz"
    ASSIGNMENT = "assignment"
    FILE = "file"


class CatalogueScoped:
    """Mixin for catalogue rows: a tenant's own, or platform-shared when `tenant_id` is NULL."""

    __usage_label__: ClassVar[str | None] = None

    @declared_attr
    def tenant_id(cls) -> Mapped[UUID | None]:
        return mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=True)

    @declared_attr
    def catalogue_owner(cls) -> Mapped[UUID]:
        # The distribution column: part of the primary key (tenant_id is NULL on shared rows).
        return mapped_column(GUID(), Computed(_OWNER_SQL, persisted=True), primary_key=True)

    @declared_attr.directive
    def __table_args__(cls) -> Any:
        table = cls.__tablename__  # type: ignore[attr-defined]
        extra: tuple[Any, ...] = getattr(cls, "__tenant_table_args__", ())
        return (
            # The primary key (catalogue_owner, id) is the target of owner-inclusive foreign keys.
            distribution_key("catalogue_owner"),
            Index(f"ix_{table}_tenant_id", "tenant_id"),
            # Target for tenant-inclusive foreign keys (other domains' rows point at a tenant's own rows).
            Index(f"ux_{table}_tenant_id_id", "tenant_id", "id", unique=True),
            # Lookups and joins by id: the read policy (own OR shared rows) is an OR on tenant_id that
            # neither index above can combine with a join on id.
            Index(f"ix_{table}_id", "id"),
            *extra,
        )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # Fetch the generated catalogue_owner with RETURNING on insert, so it is usable without a reload.
        return {**identified_by_id(cls), "eager_defaults": True}

    @property
    def is_shared(self) -> bool:
        return self.tenant_id is None

    @property
    def owner_key(self) -> UUID:
        """catalogue_owner computed in Python: usable even when the generated column is expired."""
        return self.tenant_id or SHARED_CATALOGUE_OWNER


class Program(CatalogueScoped, Base):
    """A learning path: an ordered list of courses."""

    __tablename__ = "programs"
    __usage_label__ = "programs"
    __tenant_table_args__ = (Index("ux_programs_owner_slug", "catalogue_owner", "slug", unique=True),)

    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[CourseStatus] = mapped_column(_enum(CourseStatus, "course_status"), default=CourseStatus.DRAFT)


class Course(CatalogueScoped, Base):
    """A course; learners see it once published (and once `publish_at` has passed)."""

    __tablename__ = "courses"
    __usage_label__ = "courses"
    __tenant_table_args__ = (
        Index("ux_courses_owner_slug", "catalogue_owner", "slug", unique=True),
        Index("ix_courses_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_courses_tags", "tags", postgresql_using="gin"),
        Index("ix_courses_instructor_ids", "instructor_ids", postgresql_using="gin"),
        Index("ix_courses_owner_status", "catalogue_owner", "status", "created_at"),
        # The course list's order: a page is the index's first entries, its total an index-only count.
        Index(
            "ix_courses_listing",
            "tenant_id",
            text("created_at DESC"),
            "id",
            postgresql_include=["status", "publish_at"],
        ),
    )

    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(80), default=None)
    difficulty: Mapped[Difficulty] = mapped_column(_enum(Difficulty, "course_difficulty"), default=Difficulty.BEGINNER)
    language: Mapped[str] = mapped_column(String(16), default="en")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    instructor_ids: Mapped[list[UUID]] = mapped_column(ARRAY(PG_UUID(as_uuid=True)), default=list)
    status: Mapped[CourseStatus] = mapped_column(_enum(CourseStatus, "course_status"), default=CourseStatus.DRAFT)
    # Scheduled release: published, but hidden from learners until then.
    publish_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    self_enrollment: Mapped[bool] = mapped_column(Boolean, default=True)
    # Per lesson type overrides of the default completion rules (see lms.learning.services.completion).
    completion_rules: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The version new enrolments start on; NULL until first published.
    current_version_id: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    enrollment_count: Mapped[int] = mapped_column(Integer, default=0)
    # The cover image's stored name (content-derived, see lms.lib.images); None: no cover.
    cover_name: Mapped[str | None] = mapped_column(String(64), default=None)
    # Maintained by the trigger courses_search_vector_update (weighted title/summary/description/tags).
    # Never loaded by accident: reading it unasked raises instead of costing a hidden query.
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR, default=None, deferred=True, deferred_raiseload=True)
    # The course's catalogue card as the API's JSON (CourseListItem), kept by the trigger
    # courses_list_card_update on every write of a field it shows (migration 1620); read by the course list.
    list_card: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)


class Module(CatalogueScoped, Base):
    """A section of a course; `prerequisites` lock its lessons until met."""

    __tablename__ = "modules"
    __tenant_table_args__ = (
        ForeignKeyConstraint(
            ["catalogue_owner", "course_id"], ["courses.catalogue_owner", "courses.id"], ondelete="CASCADE"
        ),
        # Deferred so a reorder can shuffle positions inside one transaction.
        UniqueConstraint(
            "catalogue_owner",
            "course_id",
            "position",
            name="uq_modules_course_position",
            deferrable=True,
            initially="DEFERRED",
        ),
    )

    course_id: Mapped[UUID] = mapped_column(GUID())
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    # [{"kind": "module_completed", "module_id": ...} | {"kind": "quiz_passed", "lesson_id": ...}]
    prerequisites: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)


class Lesson(CatalogueScoped, Base):
    """One unit of learning. Video lessons point at a media asset (owned by the media domain)."""

    __tablename__ = "lessons"
    __tenant_table_args__ = (
        ForeignKeyConstraint(
            ["catalogue_owner", "module_id"], ["modules.catalogue_owner", "modules.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["catalogue_owner", "course_id"], ["courses.catalogue_owner", "courses.id"], ondelete="CASCADE"
        ),
        UniqueConstraint(
            "catalogue_owner",
            "module_id",
            "position",
            name="uq_lessons_module_position",
            deferrable=True,
            initially="DEFERRED",
        ),
        Index("ix_lessons_course_id", "course_id"),
    )

    course_id: Mapped[UUID] = mapped_column(GUID())
    module_id: Mapped[UUID] = mapped_column(GUID())
    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[LessonType] = mapped_column(_enum(LessonType, "lesson_type"))
    position: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # No foreign key from here: the media domain owns media_assets and adds it.
    media_asset_id: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    # Counts towards course completion (optional lessons do not).
    required: Mapped[bool] = mapped_column(Boolean, default=True)


class CourseVersion(CatalogueScoped, Base):
    """An immutable snapshot taken at publish time; enrolments stay on the version they started."""

    __tablename__ = "course_versions"
    __tenant_table_args__ = (
        ForeignKeyConstraint(
            ["catalogue_owner", "course_id"], ["courses.catalogue_owner", "courses.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("catalogue_owner", "course_id", "number", name="uq_course_versions_course_number"),
    )

    course_id: Mapped[UUID] = mapped_column(GUID())
    number: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    published_by: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    note: Mapped[str] = mapped_column(Text, default="")


class ProgramCourse(CatalogueScoped, Base):
    """A course's place in a program. A tenant's program may include shared courses."""

    __tablename__ = "program_courses"
    __tenant_table_args__ = (
        ForeignKeyConstraint(
            ["catalogue_owner", "program_id"], ["programs.catalogue_owner", "programs.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["course_owner", "course_id"], ["courses.catalogue_owner", "courses.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("catalogue_owner", "program_id", "course_id", name="uq_program_courses_program_course"),
        CheckConstraint(
            f"course_owner = catalogue_owner OR course_owner = '{SHARED_CATALOGUE_OWNER}'::uuid",
            name="ck_program_courses_course_owner",
        ),
        UniqueConstraint(
            "catalogue_owner",
            "program_id",
            "position",
            name="uq_program_courses_position",
            deferrable=True,
            initially="DEFERRED",
        ),
    )

    program_id: Mapped[UUID] = mapped_column(GUID())
    course_id: Mapped[UUID] = mapped_column(GUID())
    # The course's catalogue_owner: this tenant's or the shared catalogue's (checked in the migration).
    course_owner: Mapped[UUID] = mapped_column(GUID())
    position: Mapped[int] = mapped_column(Integer)


class SharedCourseOffer(TenantScoped, Base):
    """A tenant offering a course of the shared catalogue to its learners (opt-in per course)."""

    __tablename__ = "shared_course_offers"
    __tenant_table_args__ = (
        Index("ux_shared_course_offers_course", "tenant_id", "course_id", unique=True),
        ForeignKeyConstraint(
            ["shared_owner", "course_id"], ["courses.catalogue_owner", "courses.id"], ondelete="CASCADE"
        ),
        CheckConstraint(f"shared_owner = '{SHARED_CATALOGUE_OWNER}'::uuid", name="ck_shared_course_offers_shared"),
    )

    course_id: Mapped[UUID] = mapped_column(GUID())
    # Always the shared catalogue's owner key: the foreign key then admits shared courses only.
    shared_owner: Mapped[UUID] = mapped_column(GUID(), default=SHARED_CATALOGUE_OWNER)
    offered_by: Mapped[UUID | None] = mapped_column(GUID(), default=None)
