"""Course cover images: checked like logos (PNG, JPEG or WebP, no SVG), stored in object storage under
a content-derived name, shown on catalogue cards and the course page."""

from __future__ import annotations

from uuid import UUID

from lms.catalog.services import CatalogueService
from lms.lib.errors import NotFound
from lms.lib.images import CONTENT_TYPES, content_name, inspect_raster
from lms.lib.storage import ObjectMissing, Storage

MAX_COVER_BYTES = 2 * 1024 * 1024
MAX_COVER_PIXELS = 4000


def cover_key(tenant_id: UUID, course_id: UUID, name: str) -> str:
    return f"t/{tenant_id}/courses/{course_id}/{name}"


async def set_cover(catalogue: CatalogueService, storage: Storage, course_id: UUID, data: bytes) -> str:
    """Store a checked image as the course's cover (an author of the course only); its new name."""
    course = await catalogue.editable_course(course_id)
    extension, content_type = inspect_raster(
        data, field="cover", what="the cover image", max_bytes=MAX_COVER_BYTES, max_pixels=MAX_COVER_PIXELS
    )
    name = content_name("cover", data, extension)
    assert course.tenant_id is not None  # editable courses belong to a tenant
    storage.put_bytes(cover_key(course.tenant_id, course.id, name), data, content_type)
    course.cover_name = name
    await catalogue.session.flush()
    return name


async def remove_cover(catalogue: CatalogueService, course_id: UUID) -> None:
    course = await catalogue.editable_course(course_id)
    course.cover_name = None
    await catalogue.session.flush()


async def read_cover(catalogue: CatalogueService, storage: Storage, course_id: UUID, name: str) -> tuple[bytes, str]:
    """The cover of a course the caller may see, by its current name; NotFound for anything else."""
    course = await catalogue.get_course(course_id)
    extension = name.rpartition(".")[2]
    if course.cover_name != name or extension not in CONTENT_TYPES or course.tenant_id is None:
        raise NotFound("no such cover image")
    try:
        return storage.get_bytes(cover_key(course.tenant_id, course.id, name)), CONTENT_TYPES[extension]
    except ObjectMissing as exc:
        raise NotFound("no such cover image") from exc
