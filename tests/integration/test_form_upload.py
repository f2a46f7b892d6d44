"""A multipart body read off the event loop (lms.lib.form_upload) gives what Litestar's `request.form()`
gives, with the same refusals, and its parsing and file writes run in a worker thread."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, Request, post
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.testing import TestClient

from lms.lib import form_upload
from lms.lib.form_upload import read_form

BOUNDARY = "b0undary"
LIMIT = 4 * 1024 * 1024


def _described(form: FormMultiDict) -> list[list[Any]]:
    out: list[list[Any]] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = value.file.read()
            out.append([name, value.filename, value.content_type, len(data), hashlib.sha256(data).hexdigest()])
        else:
            out.append([name, value])
    return out


@post("/litestar", request_max_body_size=LIMIT, status_code=200)
async def litestar_form(request: Request[Any, Any, Any]) -> list[list[Any]]:
    return _described(await request.form())


@post("/off-loop", request_max_body_size=LIMIT, status_code=200)
async def off_loop_form(request: Request[Any, Any, Any]) -> list[list[Any]]:
    return _described(await read_form(request))


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    app = Litestar([litestar_form, off_loop_form], multipart_form_part_limit=5)
    with TestClient(app) as test_client:
        yield test_client


def _part(name: str, data: bytes, filename: str | None = None, media_type: str = "application/pdf") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename:
        head += f"Content-Type: {media_type}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


BIG = os.urandom(3 * 1024 * 1024 + 17)  # several batches, rolled to disk
WHOLE = (
    _part("text", "Grüße".encode())
    + _part("files", b"%PDF small", "a.pdf")
    + _part("files", BIG, "big.pdf")
    + _part("url", b"")
    + f"--{BOUNDARY}--\r\n".encode()
)
BODIES = {
    "text, an empty field and two files": WHOLE,
    "an empty body": b"",
    "cut short": WHOLE[: len(WHOLE) // 2],
    "not multipart at all": b"hello there",
    "more parts than allowed": b"".join(_part(f"f{i}", b"x") for i in range(8)) + f"--{BOUNDARY}--\r\n".encode(),
    "past the route's body limit": _part("files", os.urandom(LIMIT), "huge.pdf") + f"--{BOUNDARY}--\r\n".encode(),
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_the_off_loop_form_reads_like_litestars(client: TestClient[Litestar], body: bytes) -> None:
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    theirs = client.post("/litestar", content=body, headers=headers)
    ours = client.post("/off-loop", content=body, headers=headers)
    assert ours.status_code == theirs.status_code
    if theirs.status_code == 200:
        assert ours.json() == theirs.json()


def test_a_multipart_body_is_parsed_and_spooled_in_a_worker_thread(
    client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    feed = form_upload._FormParser.feed

    def watched(self: Any, chunk: bytes) -> None:
        threads.append(threading.get_ident())
        feed(self, chunk)

    monkeypatch.setattr(form_upload._FormParser, "feed", watched)
    loop_thread: list[int] = []

    @post("/where", status_code=200, request_max_body_size=LIMIT)
    async def where(request: Request[Any, Any, Any]) -> list[list[Any]]:
        loop_thread.append(threading.get_ident())
        return _described(await read_form(request))

    with TestClient(Litestar([where])) as where_client:
        response = where_client.post(
            "/where", content=WHOLE, headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
        )
    assert response.status_code == 200, response.text
    big = next(item for item in response.json() if item[1:2] == ["big.pdf"])
    assert big[3:] == [len(BIG), hashlib.sha256(BIG).hexdigest()]
    # A few batches of about a MiB each (and the end of the body), none of them on the event loop.
    assert 1 <= len(threads) <= 6
    assert loop_thread[0] not in threads
