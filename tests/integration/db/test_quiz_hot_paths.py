"""The quiz routes of an exam burst (start, autosave, submit) cost a known, small number of statements.

Counted as in test_hot_paths: every statement the request sends, at the driver, beyond BEGIN (with the
tenant binding) and COMMIT; the tenant lookup and token revocations are cached and left out. A first
learner warms the process's caches (a published version's plan), as the many learners of a burst do."""

from __future__ import annotations

from dataclasses import replace

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.app import create_app
from lms.config import Settings
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.assessments.helpers import CORRECT, answers_for, build_quiz, enrolled_learner
from tests.integration.db.statements import statements_sent

# Route -> statements it may send (before this was measured: start 5, resume 3, autosave 3, submit 12).
# start: the quiz with the enrolment check, the learner's attempts (locked), the bank's candidates, the insert.
# autosave: the attempt (locked), the update. submit: the attempt with its quiz (locked), its update, and the
# assessment result (lesson, enrolment, lesson progress locked and written, completed lessons, the
# enrolment's update, the milestones crossed: two here, in one statement).
QUIZ_PATHS = {"start": 4, "resume": 2, "autosave": 2, "submit": 9}


@pytest.fixture
def cached_app(settings: Settings) -> Litestar:
    return create_app(replace(settings, profile_cache_seconds=0, tenant_cache_seconds=60))


async def test_quiz_attempt_routes_send_few_statements(
    cached_app: Litestar, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    counts: dict[str, list[str]] = {}
    async with AsyncTestClient(app=cached_app, base_url=host(tenant)) as client:
        setup = await build_quiz(client, make_user, login, tenant, pass_pct=50, time_limit_seconds=600)
        base, quiz = setup.base, f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts"
        for turn in ("warm", "counted"):
            _, headers = await enrolled_learner(client, make_user, login, tenant, setup)
            async with statements_sent(cached_app) as counts["start"]:
                started = await client.post(quiz, headers=headers)
            assert started.status_code == 201, started.text
            attempt = started.json()
            async with statements_sent(cached_app) as counts["resume"]:
                resumed = await client.post(quiz, headers=headers)
            assert resumed.status_code == 200, resumed.text
            answers = answers_for(attempt, CORRECT)
            url = f"{base}/api/v1/quiz-attempts/{attempt['id']}"
            async with statements_sent(cached_app) as counts["autosave"]:
                saved = await client.put(
                    f"{url}/answers", json={"answers": dict(list(answers.items())[:3])}, headers=headers
                )
            assert saved.status_code == 200, saved.text
            async with statements_sent(cached_app) as counts["submit"]:
                submitted = await client.post(f"{url}/submit", json={"answers": answers}, headers=headers)
            assert submitted.status_code == 200, submitted.text
            assert submitted.json()["passed"] is True, turn
    for route, most in QUIZ_PATHS.items():
        assert len(counts[route]) <= most, (route, counts[route])
