"""Uploaded raster images (logos, course covers): checked with Pillow, stored under a name derived from
their content, so a new image is a new name and every name can be cached for ever."""

from __future__ import annotations

import hashlib
import io

from PIL import Image, UnidentifiedImageError

from lms.lib.errors import ValidationFailed

# Pillow's format name -> (file extension, content type). SVG is never accepted: it can carry script.
RASTER_FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp")}
CONTENT_TYPES = {extension: content_type for extension, content_type in RASTER_FORMATS.values()}


def inspect_raster(data: bytes, *, field: str, what: str, max_bytes: int, max_pixels: int) -> tuple[str, str]:
    """(file extension, content type) of an acceptable PNG, JPEG or WebP image, or a field error saying
    why not (`what` names the image in the message: "the logo")."""
    if len(data) > max_bytes:
        raise ValidationFailed(f"{what} is larger than {max_bytes // 1024} KB", field=field)
    head = data[:512].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head:
        raise ValidationFailed(f"SVG images are not accepted for {what}; upload a PNG, JPEG or WebP image", field=field)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind, size = image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValidationFailed(f"{what} is not a PNG, JPEG or WebP image", field=field) from exc
    if kind not in RASTER_FORMATS:
        raise ValidationFailed(f"{what} is not a PNG, JPEG or WebP image", field=field)
    if max(size) > max_pixels:
        raise ValidationFailed(f"{what} is larger than {max_pixels} pixels on a side", field=field)
    return RASTER_FORMATS[kind]


def content_name(prefix: str, data: bytes, extension: str) -> str:
    """`<prefix>-<hash of the content>.<extension>`: the stored name of an image."""
    return f"{prefix}-{hashlib.sha256(data).hexdigest()[:20]}.{extension}"
