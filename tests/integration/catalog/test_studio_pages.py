"""The instructor studio in the browser's terms: create a course, build its outline with forms only
(add, move up and down, reorder as a drag sends it, prerequisites, delete), edit a text lesson whose
Markdown is sanitised, publish and roll back; other instructors, learners and tenants are kept out."""

from __future__ import annotations

import re

from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.identity.models import User
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def headers_of(login: Login, user: User) -> dict[str, str]:
    return browser_headers(await bearer(login, user))


async def post(client: Client, url: str, headers: dict[str, str], **fields: str | list[str]) -> Response:
    return await client.post(url, data={"csrf_token": CSRF, **fields}, headers=headers, follow_redirects=False)


async def create_course(client: Client, site: str, headers: dict[str, str], slug: str = "safety-basics") -> str:
    created = await client.post(
        f"{site}/teach/courses",
        data={"csrf_token": CSRF, "title": "Safety basics", "slug": slug, "tags": "safety, onboarding",
              "difficulty": "beginner", "language": "en", "video_pct": "85", "text_pct": "70"},
        headers=headers,
        follow_redirects=False,
    )  # fmt: skip
    assert created.status_code == 303, created.text
    match = re.search(r"/teach/courses/([0-9a-f-]{36})", created.headers["location"])
    assert match
    return match.group(1)


def lesson_ids(html: str) -> list[str]:
    return re.findall(r'id="lesson-([0-9a-f-]{36})"', html)


def module_ids(html: str) -> list[str]:
    return re.findall(r'id="module-([0-9a-f-]{36})"', html)


async def test_instructor_builds_an_outline_with_plain_forms_and_publishes(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    instructor = await make_user(tenant, roles=["instructor"])
    headers = await headers_of(login, instructor)
    site = secure_host(tenant)

    empty = await client.get(f"{site}/teach", headers=headers)
    assert empty.status_code == 200
    assert "You do not teach a course yet" in empty.text

    # A bad web name comes back as a field error, and nothing is created.
    bad = await client.post(
        f"{site}/teach/courses", data={"csrf_token": CSRF, "title": "X", "slug": "Not A Slug"}, headers=headers
    )
    assert bad.status_code == 422
    assert 'href="#slug"' in bad.text
    course_id = await create_course(client, site, headers)
    mine = await client.get(f"{site}/teach", headers=headers)
    assert "Safety basics" in mine.text
    assert mine.text.count("/settings") == 1

    base = f"{site}/teach/courses/{course_id}"
    missing = await client.post(f"{base}/modules", data={"csrf_token": CSRF, "module_title": ""}, headers=headers)
    assert missing.status_code == 422
    assert "Enter the module&#39;s title." in missing.text or "Enter the module's title." in missing.text
    for title in ("Basics", "Practice"):
        assert (await post(client, f"{base}/modules", headers, module_title=title)).status_code == 303
    outline = await client.get(base, headers=headers)
    first, second = module_ids(outline.text)

    for title in ("Read me", "Second", "Third"):
        added = await post(
            client, f"{base}/modules/{first}/lessons", headers,
            **{f"lesson-title-{first}": title, f"lesson-type-{first}": "text"},
        )  # fmt: skip
        assert added.status_code == 303
    film = {f"lesson-title-{first}": "Film", f"lesson-type-{first}": "video"}
    video = await post(client, f"{base}/modules/{first}/lessons", headers, **film)
    assert video.status_code == 422
    outline = await client.get(base, headers=headers)
    read, second_lesson, third = lesson_ids(outline.text)

    # Keyboard / no-script path: one step down; then the whole order as a drag sends it.
    assert (await post(client, f"{base}/lessons/{read}/move", headers, direction="down")).status_code == 303
    assert lesson_ids((await client.get(base, headers=headers)).text) == [second_lesson, read, third]
    dragged = await post(client, f"{base}/modules/{first}/lessons/order", headers, ids=[third, read, second_lesson])
    assert dragged.status_code == 303
    assert lesson_ids((await client.get(base, headers=headers)).text) == [third, read, second_lesson]
    assert (await post(client, f"{base}/modules/{second}/move", headers, direction="up")).status_code == 303
    assert module_ids((await client.get(base, headers=headers)).text) == [second, first]

    # Prerequisites show as the lock reason learners will read.
    prerequisite = {f"title-{second}": "Practice", "prerequisites": [f"module:{first}"]}
    saved = await post(client, f"{base}/modules/{second}", headers, **prerequisite)
    assert saved.status_code == 303
    assert "Complete “Basics” first." in (await client.get(base, headers=headers)).text

    # Text lessons: Markdown rendered and sanitised on the server.
    lesson_url = f"{base}/lessons/{read}"
    body = "# Welcome\n\n**Stay safe.** <script>alert(1)</script>\n\n[bad](javascript:alert(1))"
    assert (await post(client, lesson_url, headers, title="Read me", body=body, required="on")).status_code == 303
    editor = await client.get(lesson_url, headers=headers)
    assert "<strong>Stay safe.</strong>" in editor.text
    assert "<script>alert(1)" not in editor.text
    assert 'href="javascript:' not in editor.text

    published = await post(client, f"{base}/publish", headers, note="First")
    assert published.status_code == 303
    assert (await post(client, f"{base}/lessons/{third}", headers, title="Third, renamed")).status_code == 303
    diff = await client.get(f"{base}/publish", headers=headers)
    assert "Changes since version 1" in diff.text
    assert "Third, renamed" in diff.text
    assert (await post(client, f"{base}/publish", headers)).status_code == 303
    rolled = await post(client, f"{base}/versions/1/rollback", headers)
    assert rolled.status_code == 303
    moved = await post(client, f"{base}/versions/1/migrate", headers)
    assert moved.status_code == 303
    assert (
        "Your learners are on this version now."
        in (await client.get(f"{site}{moved.headers['location']}", headers=headers)).text
    )
    assert lesson_ids((await client.get(base, headers=headers)).text) == [third, read, second_lesson]
    assert ">Third<" in (await client.get(base, headers=headers)).text


async def test_only_the_courses_staff_may_open_or_change_it(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other_tenant = await make_tenant(), await make_tenant()
    owner = await make_user(tenant, roles=["instructor"])
    site = secure_host(tenant)
    course_id = await create_course(client, site, await headers_of(login, owner))
    base = f"{site}/teach/courses/{course_id}"

    colleague = await headers_of(login, await make_user(tenant, roles=["instructor"]))
    assert (await client.get(base, headers=colleague)).status_code == 403
    assert (await post(client, f"{base}/versions/1/migrate", colleague)).status_code == 403
    assert (await post(client, f"{base}/modules", colleague, module_title="Mine now")).status_code == 403
    assert "Safety basics" not in (await client.get(f"{site}/teach", headers=colleague)).text

    learner = await headers_of(login, await make_user(tenant))
    assert (await client.get(f"{site}/teach", headers=learner)).status_code == 403

    admin = await headers_of(login, await make_user(tenant, roles=["tenant_admin"]))
    assert (await client.get(base, headers=admin)).status_code == 200

    # Another tenant's instructor and admin: the course does not exist for them.
    stranger = await make_user(other_tenant, roles=["tenant_admin"])
    foreign = f"{secure_host(other_tenant)}/teach/courses/{course_id}"
    assert (await client.get(foreign, headers=await headers_of(login, stranger))).status_code == 404
    listed = await client.get(f"{secure_host(other_tenant)}/teach", headers=await headers_of(login, stranger))
    assert "Safety basics" not in listed.text

    # A form without the CSRF field is refused.
    owner_headers = await headers_of(login, owner)
    no_csrf = await client.post(f"{base}/modules", data={"module_title": "X"}, headers=owner_headers)
    assert no_csrf.status_code == 403


async def test_settings_name_instructors_by_email(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant: Tenant = await make_tenant()
    owner = await make_user(tenant, roles=["instructor"])
    colleague = await make_user(tenant, roles=["instructor"])
    headers = await headers_of(login, owner)
    site = secure_host(tenant)
    course_id = await create_course(client, site, headers)
    settings = await client.get(f"{site}/teach/courses/{course_id}/settings", headers=headers)
    assert owner.email in settings.text
    fields = {"title": "Safety basics", "slug": "safety-basics", "video_pct": "85", "text_pct": "70"}
    unknown = await post(client, f"{site}/teach/courses/{course_id}/settings", headers, **fields,
                         instructors=f"{owner.email}\nnobody@example.invalid")  # fmt: skip
    assert unknown.status_code == 422
    assert "nobody@example.invalid" in unknown.text
    shared = await post(client, f"{site}/teach/courses/{course_id}/settings", headers, **fields,
                        instructors=f"{owner.email}\n{colleague.email}")  # fmt: skip
    assert shared.status_code == 303
    other = await headers_of(login, colleague)
    assert (await client.get(f"{site}/teach/courses/{course_id}", headers=other)).status_code == 200


async def test_video_lesson_attaches_an_upload_and_takes_captions(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    instructor = await make_user(tenant, roles=["instructor"])
    headers = await headers_of(login, instructor)
    site = secure_host(tenant)
    course_id = await create_course(client, site, headers)
    base = f"{site}/teach/courses/{course_id}"
    await post(client, f"{base}/modules", headers, module_title="Films")
    module = module_ids((await client.get(base, headers=headers)).text)[0]
    film = {f"lesson-title-{module}": "Film", f"lesson-type-{module}": "video", f"lesson-minutes-{module}": "2"}
    added = await post(client, f"{base}/modules/{module}/lessons", headers, **film)
    assert added.status_code == 303
    lesson_url = f"{site}{added.headers['location'].split('?')[0]}"
    editor = await client.get(lesson_url, headers=headers)
    assert editor.status_code == 200, editor.text
    assert "data-uploader" in editor.text
    assert "Captions" not in editor.text  # no video yet, so nothing to caption

    api = {**headers, "X-CSRF-Token": CSRF, "Accept": "application/json"}
    created = await client.post(
        f"{site}/api/v1/media/uploads", json={"title": "Film", "filename": "film.mp4", "size_bytes": 1000}, headers=api
    )
    assert created.status_code == 201, created.text
    asset_id = created.json()["asset_id"]
    unknown = await post(client, f"{lesson_url}/video", headers, asset_id="01a22902-4515-70a5-81bb-cb6ae826077e")
    assert unknown.status_code == 404
    attached = await post(client, f"{lesson_url}/video", headers, asset_id=asset_id)
    assert attached.status_code == 303
    editor = await client.get(lesson_url, headers=headers)
    assert "Waiting for the upload to finish." in editor.text
    assert f'hx-get="/teach/media/{asset_id}/status"' in editor.text
    status = await client.get(f"{site}/teach/media/{asset_id}/status", headers=headers)
    assert status.status_code == 200
    assert "<html" not in status.text

    refused = await post(client, f"{base}/publish", headers)
    assert refused.status_code == 409
    assert "Film" in refused.text

    back = f"/teach/courses/{course_id}/lessons/{lesson_url.rsplit('/', 1)[-1]}"
    vtt = b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n"
    captioned = await client.post(
        f"{site}/teach/media/{asset_id}/captions",
        data={"csrf_token": CSRF, "language": "en", "label": "English", "back": back},
        files={"file": ("film.vtt", vtt, "text/vtt")},
        headers=headers,
        follow_redirects=False,
    )
    assert captioned.status_code == 303, captioned.text
    assert captioned.headers["location"].startswith(back)
    editor = await client.get(lesson_url, headers=headers)
    assert 'class="caption-list"' in editor.text

    # The captions are edited as text: the editor shows them; a saved fix replaces the track.
    edit_url = f"{site}/teach/media/{asset_id}/captions/en/edit?back={back}"
    assert f'href="/teach/media/{asset_id}/captions/en/edit?back={back}"' in editor.text
    edit = await client.get(edit_url, headers=headers)
    assert edit.status_code == 200
    assert "00:00.000 --&gt; 00:01.000\nHello" in edit.text
    fixed = await client.post(
        f"{site}/teach/media/{asset_id}/captions",
        data={"csrf_token": CSRF, "language": "en", "label": "English (fixed)", "back": back,
              "text": "WEBVTT\n\n00:00.000 --> 00:01.500\nHello there\n"},
        headers=headers,
        follow_redirects=False,
    )  # fmt: skip
    assert fixed.status_code == 303
    assert "notice=captions" in fixed.headers["location"]
    again = await client.get(edit_url, headers=headers)
    assert "Hello there" in again.text
    assert 'value="English (fixed)"' in again.text
    broken = await client.post(
        f"{site}/teach/media/{asset_id}/captions",
        data={"csrf_token": CSRF, "language": "en", "label": "English", "back": back, "text": "Hello"},
        headers=headers,
        follow_redirects=False,
    )
    assert "caption_error=file" in broken.headers["location"]
    assert (await client.get(f"{site}/teach/media/{asset_id}/captions/fr/edit", headers=headers)).status_code == 404
    bad = await client.post(
        f"{site}/teach/media/{asset_id}/captions",
        data={"csrf_token": CSRF, "language": "en", "label": "English", "back": "https://evil.example/"},
        files={"file": ("film.vtt", b"not a caption file", "text/vtt")},
        headers=headers,
        follow_redirects=False,
    )
    assert bad.status_code == 303
    assert bad.headers["location"].startswith("/teach?caption_error=file")

    # Another tenant cannot see the video's status.
    other = await make_tenant()
    stranger = await headers_of(login, await make_user(other, roles=["tenant_admin"]))
    assert (
        await client.get(f"{secure_host(other)}/teach/media/{asset_id}/status", headers=stranger)
    ).status_code == 404
