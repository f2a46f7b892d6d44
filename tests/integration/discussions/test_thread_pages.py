"""A long thread's page shows the question, the marked answer and one page of replies with a link to the
next; a new reply leads to the page it landed on, and so does the notice its followers get."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.discussions.models import Thread
from lms.discussions.services import REPLIES_PER_PAGE
from lms.lib import clock
from lms.notifications.models import Notification
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.discussions.test_discussions import Client, course_with_learner
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

REPLIES = 2 * REPLIES_PER_PAGE + 5


def shown_posts(html: str) -> list[str]:
    return re.findall(r'<div class="post-body"><p>([^<]*)</p>', html)


async def test_a_long_thread_is_paged_with_the_answer_first_and_a_new_reply_opens_its_page(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, teacher, student = await course_with_learner(client, make_tenant, make_user, login)
    start = clock.now() - timedelta(days=1)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        thread = await factories.discussions.make_thread(
            session, tenant.id, course_id=course.id, author_id=student.id, title="Long one", reply_count=REPLIES
        )
        common = {"thread_id": thread.id, "course_id": course.id}
        await factories.discussions.make_post(
            session,
            tenant.id,
            **common,
            author_id=student.id,
            opening=True,
            body="Q",
            body_html="<p>Q</p>",
            created_at=start,
        )
        replies = [
            await factories.discussions.make_post(
                session,
                tenant.id,
                **common,
                author_id=teacher.id,
                body=f"R{n}",
                body_html=f"<p>R{n}</p>",
                created_at=start + timedelta(seconds=n + 1),
            )
            for n in range(REPLIES)
        ]
        thread.answer_post_id = replies[30].id
    site = secure_host(tenant)
    page_url = f"{site}/courses/{course.id}/discussions/{thread.id}"
    headers = browser_headers(await bearer(login, student))

    first = await client.get(page_url, headers=headers)
    assert first.status_code == 200
    listed = [f"R{n}" for n in range(REPLIES) if n != 30]
    assert shown_posts(first.text) == ["Q", "R30", *listed[:REPLIES_PER_PAGE]]
    assert f'href="/courses/{course.id}/discussions/{thread.id}?offset={REPLIES_PER_PAGE}" rel="next"' in first.text
    last = await client.get(f"{page_url}?offset={2 * REPLIES_PER_PAGE}", headers=headers)
    assert shown_posts(last.text) == ["Q", *listed[2 * REPLIES_PER_PAGE :]]
    assert 'rel="next"' not in last.text

    # The teacher follows the thread; the learner's reply is the 46th: the last page, and the link says so.
    await client.post(
        f"{page_url}/follow",
        data={"csrf_token": CSRF, "follow": "true"},
        headers=browser_headers(await bearer(login, teacher)),
        follow_redirects=False,
    )
    posted = await client.post(
        f"{page_url}/reply", data={"csrf_token": CSRF, "body": "Thanks"}, headers=headers, follow_redirects=False
    )
    assert posted.status_code == 303
    location = posted.headers["location"]
    assert location.startswith(f"/courses/{course.id}/discussions/{thread.id}?offset={2 * REPLIES_PER_PAGE}#post-")
    landed = await client.get(f"{site}{location}", headers=headers)
    assert shown_posts(landed.text)[-1] == "Thanks"
    async with tenant_session(db.app_sessions, tenant.id) as session:
        notice = await session.scalar(
            select(Notification).where(Notification.user_id == teacher.id, Notification.kind == "thread_reply")
        )
        assert (await session.get(Thread, thread.id)).reply_count == REPLIES + 1  # type: ignore[union-attr]
    assert notice is not None
    assert notice.link == location
