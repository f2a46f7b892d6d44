"""Read a multipart/form-data body with its parsing and file writes in a worker thread.

Litestar's `request.form()` parses each received chunk on the event loop and hands every chunk of a
file part to a thread of its own (one hop per ~64 KiB, and the spill of the first MiB to disk on the
loop). Here the event loop only collects the body, as it arrives, into batches of `BATCH_BYTES`; each
batch is parsed and written to the parts' temporary files in one worker-thread call. The result is
what `request.form()` returns (text fields as `str`, files as `UploadFile` at their start), with the
same refusals (400 for a malformed body or too many parts, 413 past the route's body limit).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import anyio
from litestar.connection import Request
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, ValidationException
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState
from multipart import (  # type: ignore[import-untyped]
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
)

BATCH_BYTES = 1024 * 1024


class _FormParser:
    """The parsing side: fed one batch at a time, always from a worker thread, never two at once."""

    def __init__(self, boundary: bytes, part_limit: int) -> None:
        self.parser = PushMultipartParser(boundary, max_segment_count=part_limit)
        self.fields: defaultdict[str, list[Any]] = defaultdict(list)
        self.segment: MultipartSegment | None = None
        self.data: UploadFile | bytearray = bytearray()

    def feed_all(self, chunks: list[bytes]) -> None:
        """Blocking: parse these chunks of the body as one, then the end of the body if the last is b""."""
        body = b"".join(chunks)
        if body:
            self.feed(body)
        if chunks and not chunks[-1] and not self.closed:
            self.feed(b"")

    def feed(self, chunk: bytes) -> None:
        """Parse `chunk` (b"" at the end of the body); blocking: file parts are written as they come."""
        try:
            for part in self.parser.parse(chunk):
                if isinstance(part, MultipartSegment):
                    self.segment = part
                    if part.filename:
                        self.data = UploadFile(
                            content_type=part.content_type or "text/plain",
                            filename=part.filename,
                            headers=dict(part.headerlist),
                        )
                elif part:
                    if isinstance(self.data, UploadFile):
                        self.data.file.write(part)
                    else:
                        self.data.extend(part)
                else:
                    self._end_of_part()
        except ParserError as exc:
            self.close()
            raise ClientException("Invalid multipart/form-data") from exc
        except ParserLimitReached:
            self.close()
            raise ClientException("Request Entity Too Large") from None  # as Litestar answers it (400)

    def _end_of_part(self) -> None:
        if self.segment is None:
            raise ClientException("Unexpected eof in multipart/form-data")
        if isinstance(self.data, UploadFile):
            self.data.file.seek(0)
            self.fields[self.segment.name].append(self.data)
        else:
            self.fields[self.segment.name].append(self.data.decode(self.segment.charset or "utf-8"))
        self.data, self.segment = bytearray(), None

    @property
    def closed(self) -> bool:
        return bool(self.parser.closed)

    def close(self) -> None:
        """Blocking: closes (and so deletes) the temporary files of the parts read so far."""
        files = [v for values in self.fields.values() for v in values if isinstance(v, UploadFile)]
        if isinstance(self.data, UploadFile):
            files.append(self.data)
        for upload in files:
            upload.file.close()


async def read_form(request: Request[Any, Any, Any]) -> FormMultiDict:
    """The request's form; a multipart body is parsed off the event loop (see the module docstring)."""
    content_type, options = request.content_type
    state = ScopeState.from_scope(request.scope)
    if content_type != RequestEncodingType.MULTI_PART or state.form is not Empty:
        return await request.form()  # not multipart, or already read (a guard looked at it)
    boundary = options.get("boundary")
    if boundary is None:
        raise ValidationException("multipart boundary missing in Content-Type")
    parser = _FormParser(boundary.encode(), request.app.multipart_form_part_limit)
    pending: list[bytes] = []
    size = 0
    received = False
    try:
        async for chunk in request.stream():  # enforces the route's body limit (413) as it goes
            pending.append(chunk)
            size += len(chunk)
            received = received or bool(chunk)
            end = not chunk
            if received and (size >= BATCH_BYTES or end):
                # At the end, b"" tells the parser the body is over (a body cut short is refused).
                await anyio.to_thread.run_sync(parser.feed_all, pending)
                pending, size = [], 0
            if parser.closed:
                break
    except BaseException:
        await anyio.to_thread.run_sync(parser.close)
        raise
    # An empty body is an empty form, as Litestar reads it.
    fields = {name: values if len(values) > 1 else values[0] for name, values in parser.fields.items()}
    state.form = fields  # what request.form() caches, for any later reader of this request's form
    return FormMultiDict.from_form_data(fields)
