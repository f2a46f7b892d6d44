"""The quiz lesson in the browser: start, answer every question type as a plain form, autosave,
field errors by question, submit, result and review; strangers and other tenants are kept out."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from lms.assessments.models import QuizAttempt
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.assessments.helpers import KEY_SENTINELS, QuizSetup, build_quiz, enrolled_learner
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]

# The form fields of a fully correct answer sheet, keyed by question type (see helpers.QUESTIONS).
CORRECT_FIELDS: dict[str, list[tuple[str, str]]] = {
    "single_choice": [("", "opt-a")],
    "multiple_choice": [("", "m1"), ("", "m2"), ("", "m4")],
    "true_false": [("", "false")],
    "short_answer": [("", "Zebra-Sentinel")],
    "numeric": [("", "27182,81")],
    "ordering": [("s1", "1"), ("s2", "2"), ("s3", "3")],
    "matching": [("p1", "c1"), ("p2", "c2")],
}


def sheet(setup: QuizSetup, fields: dict[str, list[tuple[str, str]]]) -> dict[str, list[str]]:
    form: dict[str, list[str]] = {"csrf_token": [CSRF]}
    for kind, parts in fields.items():
        qid = setup.question_ids[kind]
        for part, value in parts:
            form.setdefault(f"q-{qid}-{part}" if part else f"q-{qid}", []).append(value)
    return form


async def started(client: Client, site: str, setup: QuizSetup, headers: dict[str, str]) -> str:
    quiz_url = f"{site}/courses/{setup.course.id}/lessons/{setup.lesson_id}/quiz"
    overview = await client.get(quiz_url, headers=headers)
    assert overview.status_code == 200, overview.text
    assert overview.headers["content-type"].startswith("text/html")
    assert "Start the quiz" in overview.text
    start = await client.post(
        f"{quiz_url}/attempts", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert start.status_code == 303, start.text
    return f"{site}{start.headers['location']}"


async def learner_on(
    client: Client, make_user: MakeUser, login: Login, tenant: Tenant, setup: QuizSetup
) -> tuple[User, dict[str, str]]:
    user, _ = await enrolled_learner(client, make_user, login, tenant, setup)
    return user, browser_headers(await bearer(login, user))


async def test_learner_answers_autosaves_submits_and_reviews(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant, time_limit_seconds=600)
    _, headers = await learner_on(client, make_user, login, tenant, setup)
    site = secure_host(tenant)

    lesson = await client.get(f"{site}/courses/{setup.course.id}/lessons/{setup.lesson_id}", headers=headers)
    assert f"/lessons/{setup.lesson_id}/quiz" in lesson.text

    attempt_url = await started(client, site, setup, headers)
    form = await client.get(attempt_url, headers=headers)
    assert form.status_code == 200
    for sentinel in KEY_SENTINELS:
        assert sentinel not in form.text  # no answer key before submission
    assert 'role="timer"' in form.text
    assert re.search(r'data-seconds-left="(59\d|600)"', form.text)
    assert 'hx-trigger="change delay:500ms"' in form.text

    # htmx autosave: a status line, and the answer is there when the page is opened again.
    partial = sheet(setup, {"single_choice": CORRECT_FIELDS["single_choice"]})
    saved = await client.post(f"{attempt_url}/answers", data=partial, headers={**headers, "HX-Request": "true"})
    assert saved.status_code == 200
    assert "Answers saved." in saved.text
    assert "<html" not in saved.text
    again = await client.get(attempt_url, headers=headers)
    assert re.search(r'value="opt-a"\s+checked', again.text)

    submitted = await client.post(
        f"{attempt_url}/submit", data=sheet(setup, CORRECT_FIELDS), headers=headers, follow_redirects=False
    )
    assert submitted.status_code == 303
    result = await client.get(attempt_url, headers=headers)
    assert "You passed." in result.text
    assert "Review" in result.text
    assert "Zebra-Sentinel" in result.text  # your answer, shown back
    assert result.text.count("Correct</span>") == len(CORRECT_FIELDS)

    closed = await client.post(f"{attempt_url}/answers", data=partial, headers=headers, follow_redirects=False)
    assert closed.status_code == 303  # a submitted attempt only shows its result
    autosaved = await client.post(f"{attempt_url}/answers", data=partial, headers={**headers, "HX-Request": "true"})
    assert autosaved.status_code == 409
    assert "This attempt is closed." in autosaved.text


@pytest.mark.parametrize(
    ("kind", "parts", "field", "message"),
    [
        ("numeric", [("", "twelve")], "", "Enter a number"),
        ("ordering", [("s1", "1"), ("s2", "1"), ("s3", "2")], "", "different position"),
        ("single_choice", [("", "opt-zzz")], "", "Unknown option id"),
        ("short_answer", [("", "x" * 1001)], "", "at most 1000 characters"),
    ],
)
async def test_bad_answers_are_named_by_question_and_nothing_is_saved(
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    kind: str,
    parts: list[tuple[str, str]],
    field: str,
    message: str,
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant)
    _, headers = await learner_on(client, make_user, login, tenant, setup)
    attempt_url = await started(client, secure_host(tenant), setup, headers)
    fields = {"true_false": [("", "true")], kind: parts}
    qid = setup.question_ids[kind]
    name = f"q-{qid}-{field}" if field else f"q-{qid}"
    for extra in ({}, {"HX-Request": "true"}):
        response = await client.post(f"{attempt_url}/answers", data=sheet(setup, fields), headers={**headers, **extra})
        assert response.status_code == 422
        assert message.lower() in response.text.lower()
        if not extra:
            # the summary links to the question's field (an ordering question: its first item, as shown)
            assert f'href="#{name}' in response.text
    page = await client.get(attempt_url, headers=headers)
    assert not re.search(r'value="true"\s+checked', page.text)  # the valid answer beside it was not kept


async def test_strangers_and_other_tenants_cannot_open_the_quiz(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant)
    _, headers = await learner_on(client, make_user, login, tenant, setup)
    attempt_url = await started(client, secure_host(tenant), setup, headers)
    path = attempt_url.removeprefix(secure_host(tenant))
    quiz_path = path.split("/attempts/")[0]

    stranger = await make_user(tenant, roles=["learner"])
    stranger_headers = browser_headers(await bearer(login, stranger))
    outsider = await make_user(other, roles=["learner"])
    outsider_headers = browser_headers(await bearer(login, outsider))
    cases: list[tuple[str, dict[str, str], str, Any]] = [
        (secure_host(tenant), stranger_headers, quiz_path, (403,)),
        (secure_host(tenant), stranger_headers, path, (403,)),
        (secure_host(other), outsider_headers, quiz_path, (404,)),
        (secure_host(other), outsider_headers, path, (404,)),
    ]
    for site, who, target, statuses in cases:
        response = await client.get(f"{site}{target}", headers=who)
        assert response.status_code in statuses, (target, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        submit = await client.post(f"{site}{target}", data={"csrf_token": CSRF}, headers=who, follow_redirects=False)
        assert submit.status_code in (*statuses, 405)


async def test_review_follows_the_policy(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant, review_policy="never")
    _, headers = await learner_on(client, make_user, login, tenant, setup)
    attempt_url = await started(client, secure_host(tenant), setup, headers)
    await client.post(
        f"{attempt_url}/submit", data=sheet(setup, CORRECT_FIELDS), headers=headers, follow_redirects=False
    )
    result = await client.get(attempt_url, headers=headers)
    assert "You passed." in result.text
    assert "This quiz does not show the answers." in result.text
    assert "Correct answer" not in result.text


async def test_answers_after_the_time_limit_are_refused_and_the_saved_ones_graded(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant, time_limit_seconds=600)
    _, headers = await learner_on(client, make_user, login, tenant, setup)
    attempt_url = await started(client, secure_host(tenant), setup, headers)
    first = sheet(setup, {"single_choice": CORRECT_FIELDS["single_choice"]})
    saved = await client.post(f"{attempt_url}/answers", data=first, headers=headers, follow_redirects=False)
    assert saved.status_code == 303
    # Eleven minutes later (the clock is moved by rewriting the start and deadline).
    attempt_id = uuid.UUID(attempt_url.rsplit("/", 1)[1])
    async with tenant_session(db.app_sessions, tenant.id) as session:
        past = datetime.now(UTC) - timedelta(minutes=11)
        await session.execute(
            update(QuizAttempt)
            .where(QuizAttempt.id == attempt_id)
            .values(started_at=past, deadline_at=past + timedelta(seconds=600))
        )
    late = await client.post(
        f"{attempt_url}/submit", data=sheet(setup, CORRECT_FIELDS), headers=headers, follow_redirects=False
    )
    assert late.status_code == 303
    result = await client.get(attempt_url, headers=headers)
    assert "The time limit passed; the answers saved by then were graded." in result.text
    assert "Score: 1 of 7 points" in result.text  # only the answer saved before the limit
