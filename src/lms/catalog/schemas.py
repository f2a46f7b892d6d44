"""Catalogue shapes on the wire; constraints name the offending field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

# The catalogue vocabulary other domains use.
from lms.catalog.models import SHARED_CATALOGUE_OWNER as SHARED_CATALOGUE_OWNER
from lms.catalog.models import CourseStatus as CourseStatus
from lms.catalog.models import Difficulty as Difficulty
from lms.catalog.models import LessonType as LessonType

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,118}[a-z0-9])?$", max_length=120)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Language = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
Price = Annotated[int, msgspec.Meta(ge=0, le=100_000_000)]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=24 * 3600)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]


class VideoRule(msgspec.Struct, forbid_unknown_fields=True):
    watched_pct: Percent = 90.0


class TextRule(msgspec.Struct, forbid_unknown_fields=True):
    scroll_pct: Percent = 80.0


class CompletionRules(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Per lesson type thresholds; quizzes and assignments complete when passed."""

    video: VideoRule | None = None
    text: TextRule | None = None


class CourseCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    slug: Slug
    summary: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    description: Annotated[str, msgspec.Meta(max_length=50_000)] = ""
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=80)] | None = None
    difficulty: Difficulty = Difficulty.BEGINNER
    language: Language = "en"
    tags: Annotated[list[Tag], msgspec.Meta(max_length=30)] = msgspec.field(default_factory=list)
    price_cents: Price = 0
    currency: Currency = "USD"
    instructor_ids: Annotated[list[UUID], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)
    self_enrollment: bool = True
    publish_at: datetime | None = None
    completion_rules: CompletionRules = msgspec.field(default_factory=CompletionRules)


class CourseUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields present change."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    slug: Slug | msgspec.UnsetType = msgspec.UNSET
    summary: Annotated[str, msgspec.Meta(max_length=1000)] | msgspec.UnsetType = msgspec.UNSET
    description: Annotated[str, msgspec.Meta(max_length=50_000)] | msgspec.UnsetType = msgspec.UNSET
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=80)] | msgspec.UnsetType | None = msgspec.UNSET
    difficulty: Difficulty | msgspec.UnsetType = msgspec.UNSET
    language: Language | msgspec.UnsetType = msgspec.UNSET
    tags: Annotated[list[Tag], msgspec.Meta(max_length=30)] | msgspec.UnsetType = msgspec.UNSET
    price_cents: Price | msgspec.UnsetType = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    instructor_ids: Annotated[list[UUID], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    self_enrollment: bool | msgspec.UnsetType = msgspec.UNSET
    publish_at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    completion_rules: CompletionRules | msgspec.UnsetType = msgspec.UNSET


class PublishIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""
    publish_at: datetime | None = None


class Prerequisite(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="module_completed"):
    module_id: UUID


class QuizPrerequisite(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="quiz_passed"):
    lesson_id: UUID


AnyPrerequisite = Prerequisite | QuizPrerequisite


class ModuleCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    prerequisites: Annotated[list[AnyPrerequisite], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)


class ModuleUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    title: Title | msgspec.UnsetType = msgspec.UNSET
    prerequisites: Annotated[list[AnyPrerequisite], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET


class LessonCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    type: LessonType
    duration_seconds: Seconds | None = None
    content: dict[str, Any] = msgspec.field(default_factory=dict)
    media_asset_id: UUID | None = None
    required: bool = True


class LessonUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    title: Title | msgspec.UnsetType = msgspec.UNSET
    duration_seconds: Seconds | msgspec.UnsetType | None = msgspec.UNSET
    content: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    media_asset_id: UUID | msgspec.UnsetType | None = msgspec.UNSET
    required: bool | msgspec.UnsetType = msgspec.UNSET


class ReorderIn(msgspec.Struct, forbid_unknown_fields=True):
    """The complete new order of ids; `expected_version` is what the editor last saw (optional)."""

    ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=500)]


class LessonOut(msgspec.Struct):
    id: UUID
    module_id: UUID
    title: str
    type: LessonType
    position: int
    duration_seconds: int | None
    required: bool
    media_asset_id: UUID | None
    content: dict[str, Any]


class ModuleOut(msgspec.Struct):
    id: UUID
    title: str
    position: int
    prerequisites: list[dict[str, Any]]
    lessons: list[LessonOut] = msgspec.field(default_factory=list)


class CourseListItem(msgspec.Struct):
    """A course in the course list: what a catalogue card shows. The description, completion rules and
    outline, long and read one course at a time, come with `GET /api/v1/courses/{id}` (`CourseOut`)."""

    id: UUID
    title: str
    slug: str
    summary: str
    category: str | None
    difficulty: Difficulty
    language: str
    tags: list[str]
    price_cents: int
    currency: str
    instructor_ids: list[UUID]
    status: CourseStatus
    publish_at: datetime | None
    self_enrollment: bool
    shared: bool
    current_version: int | None
    enrollment_count: int
    created_at: datetime
    # The cover image on the site (`GET`, signed in), or None.
    cover_url: str | None


class CourseOut(CourseListItem):
    """A course itself: its card's fields, then the long ones."""

    description: str
    completion_rules: dict[str, Any]
    modules: list[ModuleOut] | None = None


class SharedCourseOut(msgspec.Struct):
    id: UUID
    title: str
    slug: str
    summary: str
    offered: bool


class VersionOut(msgspec.Struct):
    id: UUID
    number: int
    note: str
    published_by: UUID | None
    created_at: datetime
    current: bool


class MigrateIn(msgspec.Struct, forbid_unknown_fields=True):
    """Move enrolments to this version: the listed ones, or all active ones when omitted."""

    enrollment_ids: Annotated[list[UUID], msgspec.Meta(max_length=10_000)] | None = None


class ProgramCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    slug: Slug
    description: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    course_ids: Annotated[list[UUID], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)


class ProgramCoursesIn(msgspec.Struct, forbid_unknown_fields=True):
    """The complete, ordered list of the program's courses."""

    course_ids: Annotated[list[UUID], msgspec.Meta(max_length=100)]


class ProgramStatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: CourseStatus


class ProgramCourseOut(msgspec.Struct):
    course_id: UUID
    title: str
    position: int
    shared: bool


class ProgramOut(msgspec.Struct):
    id: UUID
    title: str
    slug: str
    description: str
    status: CourseStatus
    shared: bool
    courses: list[ProgramCourseOut]


SortOrder = Literal["relevance", "popularity", "newest"]
PriceFilter = Literal["free", "paid"]


class SearchQuery(msgspec.Struct, frozen=True):
    q: str | None = None
    category: str | None = None
    difficulty: Difficulty | None = None
    language: str | None = None
    instructor_id: UUID | None = None
    price: PriceFilter | None = None
    sort: SortOrder = "relevance"
    limit: int = 20
    offset: int = 0


class SpokenHit(msgspec.Struct):
    """Where a search phrase is said: the lesson showing the video, and the second it starts."""

    lesson_id: UUID
    lesson_title: str
    asset_id: UUID
    start_seconds: float
    text: str
    rank: float = 0.0


class SearchHit(msgspec.Struct):
    id: UUID
    title: str
    slug: str
    summary: str
    category: str | None
    difficulty: str
    language: str
    tags: list[str]
    price_cents: int
    shared: bool
    enrollment_count: int
    score: float
    cover_url: str | None = None
    # Set when the course matched through a phrase spoken in one of its videos.
    spoken: SpokenHit | None = None


class SearchResult(msgspec.Struct):
    """`corrected_query`: the query as spelling-corrected, when the results are for that instead."""

    items: list[SearchHit]
    total: int
    limit: int
    offset: int
    facets: dict[str, dict[str, int]]
    corrected_query: str | None = None


class ShareIn(msgspec.Struct, forbid_unknown_fields=True):
    tenant_id: UUID
    course_id: UUID
    slug: str | None = None


class SharedCourseAdminOut(msgspec.Struct):
    id: UUID
    title: str
    slug: str
    status: CourseStatus
    source_tenant_id: UUID | None
    source_course_id: UUID | None
