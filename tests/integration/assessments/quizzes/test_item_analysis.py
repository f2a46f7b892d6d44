"""Instructors see how each question performed: correct rate, discrimination, the favourite wrong answer."""

from __future__ import annotations

from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.assessments.helpers import CORRECT, WRONG, answers_for, build_quiz, enrolled_learner
from tests.integration.catalog.helpers import Client


async def test_item_analysis_after_a_cohort_submits(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    setup = await build_quiz(client, make_user, login, tenant)
    # Strong learners answer everything right; weak ones everything wrong except true/false.
    plans = [CORRECT, CORRECT, CORRECT, {**WRONG, "true_false": False}, {**WRONG, "true_false": False}]
    student = None
    for plan in plans:
        _, student = await enrolled_learner(client, make_user, login, tenant, setup)
        attempt = (await client.post(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/attempts", headers=student)).json()
        submitted = await client.post(
            f"{setup.base}/api/v1/quiz-attempts/{attempt['id']}/submit",
            json={"answers": answers_for(attempt, plan)},
            headers=student,
        )
        assert submitted.status_code == 200
    response = await client.get(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/analysis", headers=setup.author)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["attempts"] == 5
    assert report["pass_rate"] == 0.6
    items = {i["type"]: i for i in report["items"]}
    single = items["single_choice"]
    assert single["correct_rate"] == 0.6
    assert single["discrimination"] == 1.0
    assert single["most_chosen_wrong"] == "opt-b"
    assert single["most_chosen_wrong_count"] == 2
    assert items["true_false"]["correct_rate"] == 1.0
    assert items["true_false"]["discrimination"] == 0.0
    assert items["short_answer"]["most_chosen_wrong"] == "horse"
    assert items["multiple_choice"]["average_score"] == 0.6
    assert student is not None
    forbidden = await client.get(f"{setup.base}/api/v1/quizzes/{setup.quiz_id}/analysis", headers=student)
    assert forbidden.status_code == 403
