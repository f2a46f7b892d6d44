"""Course cover images: an author uploads one (checked like logos), learners see it on the catalogue card
and the course page; other tenants and wrong names get 404."""

from __future__ import annotations

import io
import re

from httpx import Response
from PIL import Image

from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.catalog.helpers import Client, build_course, instructor, learner
from tests.integration.catalog.test_studio_pages import headers_of
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, browser_headers


def png(width: int = 64, height: int = 36) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def test_an_author_sets_a_cover_that_learners_see_and_others_cannot_reach(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    author_user, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, title="Ladder safety")
    api = f"{course.base}/api/v1/courses/{course.id}"

    # Refused, with the field named: not an image, SVG, too many pixels; nothing is stored.
    for body in (b"not an image", b"<svg xmlns='http://www.w3.org/2000/svg'/>", png(4001, 10)):
        refused = await client.put(f"{api}/cover", content=body, headers=author)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "cover"
    assert (await client.get(api, headers=author)).json()["cover_url"] is None

    stored = await client.put(f"{api}/cover", content=png(), headers=author)
    assert stored.status_code == 200, stored.text
    cover_url = stored.json()["cover_url"]
    assert cover_url.startswith(f"/courses/{course.id}/cover/cover-")

    _, student = await learner(make_user, login, tenant)
    image = await client.get(f"{host(tenant)}{cover_url}", headers=student)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert "immutable" in image.headers["cache-control"]
    assert image.content == png()
    found = (await client.get(f"{course.base}/api/v1/catalog/search", params={"q": "ladder"}, headers=student)).json()
    assert found["items"][0]["cover_url"] == cover_url
    listed = (await client.get(f"{course.base}/api/v1/courses", headers=student)).json()
    assert [c["cover_url"] for c in listed["items"] if c["id"] == course.id] == [cover_url]
    learner_page = browser_headers(student["Authorization"].removeprefix("Bearer "))
    page = await client.get(f"{secure_host(tenant)}/courses?q=ladder", headers=learner_page)
    assert f'src="{cover_url}"' in page.text

    # A learner cannot set it; another tenant's people and a wrong name get 404.
    assert (await client.put(f"{api}/cover", content=png(), headers=student)).status_code == 403
    other = await make_tenant()
    _, outsider = await learner(make_user, login, other)
    assert (await client.get(f"{host(other)}{cover_url}", headers=outsider)).status_code == 404
    wrong = cover_url.rsplit("/", 1)[0] + "/cover-0000.png"
    assert (await client.get(f"{host(tenant)}{wrong}", headers=student)).status_code == 404

    # The settings page uploads and removes it as a plain form.
    site = secure_host(tenant)
    pages = await headers_of(login, author_user)
    form_url = f"{site}/teach/courses/{course.id}/cover"
    empty = await client.post(form_url, data={"csrf_token": CSRF}, headers=pages)
    assert empty.status_code == 422
    assert "Choose an image file." in empty.text
    bad = await client.post(
        form_url, data={"csrf_token": CSRF}, files={"cover": ("x.svg", b"<svg/>", "image/svg+xml")}, headers=pages
    )
    assert bad.status_code == 422
    assert "SVG images are not accepted" in bad.text
    uploaded = await client.post(
        form_url,
        data={"csrf_token": CSRF},
        files={"cover": ("c.png", png(80, 45), "image/png")},
        headers=pages,
        follow_redirects=False,
    )
    assert uploaded.status_code == 303, uploaded.text[-3000:]
    removed = await client.post(f"{form_url}/remove", data={"csrf_token": CSRF}, headers=pages, follow_redirects=False)
    assert removed.status_code == 303
    assert (await client.get(api, headers=author)).json()["cover_url"] is None


async def test_an_author_places_an_uploaded_image_in_a_text_lesson(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    author_user, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, title="Ladder safety")
    site = secure_host(tenant)
    pages = await headers_of(login, author_user)
    text_lesson = f"{site}/teach/courses/{course.id}/lessons/{course.lessons['Reading']}"
    video_lesson = f"{site}/teach/courses/{course.id}/lessons/{course.lessons['Intro video']}"

    async def upload(url: str, name: str, body: bytes, kind: str) -> Response:
        return await client.post(
            f"{url}/images", data={"csrf_token": CSRF}, files={"image": (name, body, kind)}, headers=pages
        )

    svg = await upload(text_lesson, "x.svg", b"<svg/>", "image/svg+xml")
    assert svg.status_code == 422
    assert "SVG images are not accepted" in svg.text
    not_text = await upload(video_lesson, "a.png", png(), "image/png")
    assert not_text.status_code == 422
    assert "Images go into text lessons." in not_text.text

    placed = await upload(text_lesson, "a.png", png(), "image/png")
    assert placed.status_code == 200
    match = re.search(r"!\[Describe the image\]\((/courses/[^)]+)\)", placed.text)
    assert match
    image_url = match.group(1)

    _, student = await learner(make_user, login, tenant)
    shown = await client.get(f"{host(tenant)}{image_url}", headers=student)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/png"
    assert shown.content == png()
    other = await make_tenant()
    _, outsider = await learner(make_user, login, other)
    assert (await client.get(f"{host(other)}{image_url}", headers=outsider)).status_code == 404
    # The lesson's Markdown places it for learners (the sanitiser keeps a same-site image).
    saved = await client.post(
        text_lesson,
        data={"csrf_token": CSRF, "title": "Reading", "minutes": "5", "body": f"Look:\n\n![Ladder]({image_url})"},
        headers=pages,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    editor = await client.get(text_lesson, headers=pages)
    assert f'<img src="{image_url}" alt="Ladder"' in editor.text
