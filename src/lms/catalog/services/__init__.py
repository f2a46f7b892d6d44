"""Authoring the catalogue: courses, modules, lessons, ordering, publishing, versions, rollback.

Runs on the request's tenant-bound session, so RLS scopes every query: a tenant sees its own rows
and the shared catalogue, and can change only its own rows.
"""

from lms.catalog.services.base import (
    bump_enrollment_count,
    course_out,
    course_page,
    is_offered,
    is_visible_to_learners,
    lesson_out,
    module_out,
    offered_to_tenant,
    record_lesson_duration,
    snapshot,
)
from lms.catalog.services.offers import SharedOffers
from lms.catalog.services.studio import Studio, draft_changes, lock_reasons, render_lesson_text


class CatalogueService(Studio, SharedOffers):
    """Courses of the current tenant plus the shared catalogue (read-only here)."""


__all__ = [
    "CatalogueService",
    "bump_enrollment_count",
    "course_out",
    "course_page",
    "draft_changes",
    "is_offered",
    "is_visible_to_learners",
    "lesson_out",
    "lock_reasons",
    "module_out",
    "offered_to_tenant",
    "record_lesson_duration",
    "render_lesson_text",
    "snapshot",
]
