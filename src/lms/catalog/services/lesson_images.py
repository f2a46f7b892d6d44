"""Images in text lessons: uploaded by the course's authors (checked like logos and covers), stored in
object storage under a content-derived name, and written into the lesson's Markdown as `![…](url)`."""

from __future__ import annotations

from uuid import UUID

from lms.catalog.models import LessonType
from lms.catalog.services import CatalogueService
from lms.lib.errors import NotFound, ValidationFailed
from lms.lib.images import CONTENT_TYPES, content_name, inspect_raster
from lms.lib.storage import ObjectMissing, Storage

MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_IMAGE_PIXELS = 4000


def image_key(tenant_id: UUID, course_id: UUID, name: str) -> str:
    return f"t/{tenant_id}/courses/{course_id}/images/{name}"


def image_url(course_id: UUID, name: str) -> str:
    return f"/courses/{course_id}/images/{name}"


async def add_lesson_image(
    catalogue: CatalogueService, storage: Storage, course_id: UUID, lesson_id: UUID, data: bytes
) -> str:
    """Store a checked image for a text lesson of the course; the address to write into its Markdown."""
    course = await catalogue.editable_course(course_id)
    lesson = await catalogue.course_lesson(course.id, lesson_id)
    if lesson.type is not LessonType.TEXT:
        raise ValidationFailed("images go into text lessons", field="lesson_id")
    extension, content_type = inspect_raster(
        data, field="image", what="the image", max_bytes=MAX_IMAGE_BYTES, max_pixels=MAX_IMAGE_PIXELS
    )
    name = content_name("img", data, extension)
    assert course.tenant_id is not None  # editable courses belong to a tenant
    storage.put_bytes(image_key(course.tenant_id, course.id, name), data, content_type)
    return image_url(course.id, name)


async def read_lesson_image(
    catalogue: CatalogueService, storage: Storage, course_id: UUID, name: str
) -> tuple[bytes, str]:
    """An image of a course the caller may see; NotFound for anything else."""
    course = await catalogue.get_course(course_id)
    extension = name.rpartition(".")[2]
    if not name.startswith("img-") or extension not in CONTENT_TYPES or course.tenant_id is None:
        raise NotFound("no such image")
    try:
        return storage.get_bytes(image_key(course.tenant_id, course.id, name)), CONTENT_TYPES[extension]
    except ObjectMissing as exc:
        raise NotFound("no such image") from exc
