"""Taking a quiz: drawn and shuffled per attempt, resumable, graded on the server, key never leaked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from lms.assessments.models import QuizAttempt
from lms.assessments.quizzes.services import snapshots
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import LessonProgress, ProgressStatus
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.assessments.helpers import (
    CORRECT,
    WRONG,
    answers_for,
    assert_no_key,
    build_quiz,
    enrolled_learner,
)
from tests.integration.catalog.helpers import Client, learner


async def test_learner_takes_resumes_and_passes_a_quiz_without_ever_seeing_the_key(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant, pass_pct=80)
    user, student = await enrolled_learner(client, make_user, login, tenant, setup)
    base = setup.base

    quiz = await client.get(f"{base}/api/v1/quizzes/{setup.quiz_id}", headers=student)
    assert_no_key(quiz)
    assert quiz.json()["pools"] is None
    started = await client.post(f"{base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)
    assert started.status_code == 201, started.text
    assert_no_key(started)
    attempt = started.json()
    assert {q["question"]["type"] for q in attempt["questions"]} == set(CORRECT)
    url = f"{base}/api/v1/quiz-attempts/{attempt['id']}"

    resumed = await client.post(f"{base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)
    assert resumed.status_code == 200
    assert resumed.json()["questions"] == attempt["questions"]
    assert_no_key(resumed)
    answers = answers_for(attempt, CORRECT)
    first_half = dict(list(answers.items())[:3])
    saved = await client.put(f"{url}/answers", json={"answers": first_half}, headers=student)
    assert saved.status_code == 200, saved.text
    assert_no_key(saved)
    reread = await client.get(url, headers=student)
    assert_no_key(reread)
    assert reread.json()["questions"] == attempt["questions"]
    assert set(reread.json()["answers"]) == set(first_half)
    listed = await client.get(f"{base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)
    assert_no_key(listed)

    submitted = await client.post(f"{url}/submit", json={"answers": answers}, headers=student)
    assert submitted.status_code == 200, submitted.text
    result = submitted.json()
    assert result["status"] == "submitted"
    assert result["score_pct"] == 100
    assert result["passed"] is True
    assert len(result["feedback"]) == len(CORRECT)
    assert all(f["correct"] for f in result["feedback"])
    again = await client.post(f"{url}/submit", json={}, headers=student)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_submitted"
    late_save = await client.put(f"{url}/answers", json={"answers": first_half}, headers=student)
    assert late_save.status_code == 409

    async with tenant_session(db.app_sessions, tenant.id) as session:
        progress = (
            await session.execute(
                select(LessonProgress).where(
                    LessonProgress.user_id == user.id, LessonProgress.lesson_id == uuid.UUID(setup.lesson_id)
                )
            )
        ).scalar_one()
    assert progress.status is ProgressStatus.COMPLETED
    assert progress.passed is True
    assert progress.score == 100


async def test_partial_credit_and_a_failing_score(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant)
    _, student = await enrolled_learner(client, make_user, login, tenant, setup)
    attempt = (await client.post(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)).json()
    answers = answers_for(attempt, WRONG)
    mc = next(q["question_id"] for q in attempt["questions"] if q["question"]["type"] == "multiple_choice")
    answers[mc] = ["m1", "m2"]  # two of three right, nothing wrong: 2/3 credit
    result = await client.post(
        f"{setup.base}/api/v1/quiz-attempts/{attempt['id']}/submit", json={"answers": answers}, headers=student
    )
    body = result.json()
    assert body["passed"] is False
    feedback = {f["question_id"]: f for f in body["feedback"]}
    assert feedback[mc]["score"] == round(2 / 3, 4)
    assert body["score"] == round(2 / 3, 4)
    assert feedback[mc]["correct_answer"] == ["m1", "m2", "m4"]


async def test_an_attempt_started_on_another_api_process_is_shown_saved_and_graded_the_same(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    """Each API process keeps the attempts it has seen decoded; one that has not reads the items it shows."""
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant)
    _, student = await enrolled_learner(client, make_user, login, tenant, setup)
    quiz = f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts"
    attempt = (await client.post(quiz, headers=student)).json()
    url = f"{setup.base}/api/v1/quiz-attempts/{attempt['id']}"
    answers = answers_for(attempt, CORRECT)

    snapshots.forget_all()  # as a process that never saw the attempt
    resumed = await client.post(quiz, headers=student)
    assert resumed.status_code == 200
    assert resumed.json()["questions"] == attempt["questions"]
    snapshots.forget_all()
    saved = await client.put(f"{url}/answers", json={"answers": dict(list(answers.items())[:2])}, headers=student)
    assert saved.status_code == 200, saved.text
    assert saved.json()["questions"] == attempt["questions"]
    snapshots.forget_all()
    submitted = await client.post(f"{url}/submit", json={"answers": answers}, headers=student)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["score_pct"] == 100
    assert [f["correct"] for f in submitted.json()["feedback"]] == [True] * len(CORRECT)
    snapshots.forget_all()
    review = await client.get(url, headers=student)
    assert review.json()["questions"] == attempt["questions"]
    assert review.json()["feedback"] == submitted.json()["feedback"]


async def test_bad_answers_are_rejected_by_name_and_leave_the_attempt_unchanged(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant)
    _, student = await enrolled_learner(client, make_user, login, tenant, setup)
    attempt = (await client.post(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)).json()
    url = f"{setup.base}/api/v1/quiz-attempts/{attempt['id']}"
    by_type = {q["question"]["type"]: q["question_id"] for q in attempt["questions"]}
    good = {by_type["true_false"]: False}
    assert (await client.put(f"{url}/answers", json={"answers": good}, headers=student)).status_code == 200

    cases: list[tuple[dict[str, Any], str, str]] = [
        ({by_type["single_choice"]: "opt-zzz"}, by_type["single_choice"], "unknown option id 'opt-zzz'"),
        ({by_type["multiple_choice"]: "m1"}, by_type["multiple_choice"], "list of option ids"),
        ({by_type["numeric"]: "lots"}, by_type["numeric"], "finite number"),
        ({by_type["matching"]: {"p1": "c9"}}, by_type["matching"], "unknown choice id"),
        ({by_type["ordering"]: ["s1"]}, by_type["ordering"], "every item exactly once"),
        ({"not-a-question": 1}, "not-a-question", "not part of this attempt"),
    ]
    for answers, question_id, message in cases:
        # A valid answer alongside a bad one: neither is stored.
        payload = {by_type["true_false"]: True, **answers}
        rejected = await client.put(f"{url}/answers", json={"answers": payload}, headers=student)
        assert rejected.status_code == 422, rejected.text
        assert rejected.json()["error"]["field"] == f"answers.{question_id}"
        assert message in rejected.json()["error"]["message"]
        assert_no_key(rejected)
        refused_submit = await client.post(f"{url}/submit", json={"answers": payload}, headers=student)
        assert refused_submit.status_code == 422
    after = (await client.get(url, headers=student)).json()
    assert after["answers"] == {by_type["true_false"]: False}
    assert after["status"] == "in_progress"


async def test_someone_elses_attempt_is_not_found(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant)
    _, owner = await enrolled_learner(client, make_user, login, tenant, setup)
    _, other = await enrolled_learner(client, make_user, login, tenant, setup)
    attempt = (await client.post(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=owner)).json()
    url = f"{setup.base}/api/v1/quiz-attempts/{attempt['id']}"
    assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.put(f"{url}/answers", json={"answers": {}}, headers=other)).status_code == 404
    assert (await client.post(f"{url}/submit", json={}, headers=other)).status_code == 404
    # staff may read it (without the key before submission) but never submit for the learner
    staff_view = await client.get(url, headers=setup.author)
    assert staff_view.status_code == 200
    assert_no_key(staff_view)
    assert (await client.post(f"{url}/submit", json={}, headers=setup.author)).status_code == 404
    # not enrolled: no attempt at all
    _, stranger = await learner(make_user, login, tenant)
    refused = await client.post(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=stranger)
    assert refused.status_code == 403


async def test_time_limit_is_enforced_by_the_server(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant, time_limit_seconds=600)
    _, student = await enrolled_learner(client, make_user, login, tenant, setup)
    attempt = (await client.post(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)).json()
    assert 590 < attempt["seconds_left"] <= 600
    url = f"{setup.base}/api/v1/quiz-attempts/{attempt['id']}"
    answers = answers_for(attempt, CORRECT)
    first = dict(list(answers.items())[:2])
    assert (await client.put(f"{url}/answers", json={"answers": first}, headers=student)).status_code == 200
    # Eleven minutes later (the clock is moved by rewriting the start and deadline).
    async with tenant_session(db.app_sessions, tenant.id) as session:
        past = datetime.now(UTC) - timedelta(minutes=11)
        await session.execute(
            update(QuizAttempt)
            .where(QuizAttempt.id == uuid.UUID(attempt["id"]))
            .values(started_at=past, deadline_at=past + timedelta(seconds=600))
        )
    late = await client.post(f"{url}/submit", json={"answers": answers}, headers=student)
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "time_limit_passed"
    late_save = await client.put(f"{url}/answers", json={"answers": answers}, headers=student)
    assert late_save.status_code == 409
    expired = (await client.get(url, headers=student)).json()
    assert expired["status"] == "expired"
    # graded on what was saved before the limit: two of seven questions
    assert expired["score"] == 2
    assert expired["answers"] == first


async def test_attempt_limits_cooldown_and_distinct_draws(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    questions = [{"type": "true_false", "prompt": f"Statement {i}", "correct": i % 2 == 0} for i in range(12)]
    setup = await build_quiz(client, make_user, login, tenant, questions=questions, count=6, max_attempts=2)
    _, student = await enrolled_learner(client, make_user, login, tenant, setup)
    start = f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts"
    drawn = []
    for _ in range(2):
        attempt = (await client.post(start, headers=student)).json()
        ids = [q["question_id"] for q in attempt["questions"]]
        assert len(ids) == 6
        assert len(set(ids)) == 6
        assert set(ids) <= set(setup.question_ids.values())
        drawn.append(ids)
        submitted = await client.post(
            f"{setup.base}/api/v1/quiz-attempts/{attempt['id']}/submit", json={}, headers=student
        )
        assert submitted.status_code == 200
    assert drawn[0] != drawn[1]
    third = await client.post(start, headers=student)
    assert third.status_code == 409
    assert "attempts have been used" in third.json()["error"]["message"]
    history = (await client.get(start, headers=student)).json()
    assert [a["number"] for a in history["items"]] == [1, 2]

    cooled = await build_quiz(client, make_user, login, tenant, questions=questions, count=3, cooldown_seconds=3600)
    _, other = await enrolled_learner(client, make_user, login, tenant, cooled)
    first = (await client.post(f"{cooled.base}/api/v1/quizzes/{cooled.quiz_id}/attempts", headers=other)).json()
    await client.post(f"{cooled.base}/api/v1/quiz-attempts/{first['id']}/submit", json={}, headers=other)
    waiting = await client.post(f"{cooled.base}/api/v1/quizzes/{cooled.quiz_id}/attempts", headers=other)
    assert waiting.status_code == 409
    assert "cooldown" in waiting.json()["error"]["message"]


async def test_review_policies_decide_when_feedback_is_shown(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for policy, extra, reason in [
        ("never", {}, "never"),
        ("after_passing", {}, "after you pass the quiz"),
        ("after_due_date", {"due_at": future}, "after the due date"),
    ]:
        setup = await build_quiz(client, make_user, login, tenant, review_policy=policy, **extra)
        _, student = await enrolled_learner(client, make_user, login, tenant, setup)
        attempt = (await client.post(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)).json()
        result = await client.post(
            f"{setup.base}/api/v1/quiz-attempts/{attempt['id']}/submit",
            json={"answers": answers_for(attempt, WRONG)},
            headers=student,
        )
        body = result.json()
        assert body["passed"] is False
        assert body["score"] is not None
        assert body["feedback"] is None, policy
        assert body["feedback_available"].startswith(reason)
        assert_no_key(result)
        staff = (await client.get(f"{setup.base}/api/v1/quiz-attempts/{attempt['id']}", headers=setup.author)).json()
        assert staff["feedback"] is not None


async def test_quizzes_and_attempts_of_another_tenant_are_out_of_reach(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    a, b = await make_tenant(), await make_tenant()
    setup_b = await build_quiz(client, make_user, login, b)
    _, student_b = await enrolled_learner(client, make_user, login, b, setup_b)
    attempt_b = (
        await client.post(f"{setup_b.base}/api/v1/quizzes/{setup_b.quiz_id}/attempts", headers=student_b)
    ).json()
    user_a, student_a = await learner(make_user, login, a)
    admin_a = await login(await make_user(a, roles=["tenant_admin"]))
    base_a = host(a)
    for headers in (student_a, admin_a):
        assert (await client.get(f"{base_a}/api/v1/quizzes/{setup_b.quiz_id}", headers=headers)).status_code == 404
        started = await client.post(f"{base_a}/api/v1/quizzes/{setup_b.quiz_id}/attempts", headers=headers)
        assert started.status_code == 404
        url = f"{base_a}/api/v1/quiz-attempts/{attempt_b['id']}"
        assert (await client.get(url, headers=headers)).status_code == 404
        assert (await client.post(f"{url}/submit", json={}, headers=headers)).status_code == 404
    assert (await client.get(f"{base_a}/api/v1/question-banks/{setup_b.bank_id}", headers=admin_a)).status_code == 404
    assert (await client.get(f"{base_a}/api/v1/quizzes/{setup_b.quiz_id}/analysis", headers=admin_a)).status_code == 404
    # A's token on B's host
    foreign = await client.get(f"{setup_b.base}/api/v1/quiz-attempts/{attempt_b['id']}", headers=student_a)
    assert foreign.status_code == 401
    assert user_a.tenant_id == a.id


async def test_the_due_date_closes_the_quiz_and_bounds_open_attempts(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    soon = datetime.now(UTC) + timedelta(minutes=5)
    setup = await build_quiz(client, make_user, login, tenant, time_limit_seconds=3600, due_at=soon.isoformat())
    _, student = await enrolled_learner(client, make_user, login, tenant, setup)
    attempt = (await client.post(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)).json()
    assert datetime.fromisoformat(attempt["deadline_at"]) == soon
    assert attempt["seconds_left"] <= 300

    past = await build_quiz(
        client, make_user, login, tenant, due_at=(datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    )
    _, late = await enrolled_learner(client, make_user, login, tenant, past)
    closed = await client.post(f"{past.base}/api/v1/quizzes/{past.quiz_id}/attempts", headers=late)
    assert closed.status_code == 409
    assert "closed" in closed.json()["error"]["message"]


async def test_changed_rules_apply_to_attempts_started_afterwards(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant, time_limit_seconds=600, max_attempts=3)
    _, student = await enrolled_learner(client, make_user, login, tenant, setup)
    base = setup.base
    under_way = (await client.post(f"{base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)).json()

    pools = [{"bank_id": setup.bank_id, "count": 2}]
    rules = {"title": "Shorter check", "pools": pools, "time_limit_seconds": 60, "max_attempts": 5, "pass_pct": 50}
    changed = await client.put(f"{base}/api/v1/quizzes/{setup.quiz_id}", json=rules, headers=setup.author)
    assert changed.status_code == 200, changed.text
    assert changed.json()["question_count"] == 2
    assert changed.json()["time_limit_seconds"] == 60

    # The attempt under way keeps what it drew and its deadline.
    resumed = (await client.post(f"{base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)).json()
    assert resumed["id"] == under_way["id"]
    assert len(resumed["questions"]) == len(under_way["questions"])
    assert resumed["deadline_at"] == under_way["deadline_at"]

    # A pool larger than the bank, another course's bank, a learner and another tenant are refused.
    too_many = {**rules, "pools": [{"bank_id": setup.bank_id, "count": 99}]}
    refused = await client.put(f"{base}/api/v1/quizzes/{setup.quiz_id}", json=too_many, headers=setup.author)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "pools[0].count"
    stranger_bank = {**rules, "pools": [{"bank_id": str(uuid.uuid4()), "count": 1}]}
    unknown = await client.put(f"{base}/api/v1/quizzes/{setup.quiz_id}", json=stranger_bank, headers=setup.author)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "pools[0].bank_id"
    assert (await client.put(f"{base}/api/v1/quizzes/{setup.quiz_id}", json=rules, headers=student)).status_code == 403
    other = await make_tenant()
    other_author = await login(await make_user(other, roles=["instructor"]))
    foreign = f"{host(other)}/api/v1/quizzes/{setup.quiz_id}"
    assert (await client.put(foreign, json=rules, headers=other_author)).status_code == 404
