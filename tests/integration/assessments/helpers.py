"""Build a course with a quiz lesson, a bank of every question type and a quiz, through the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from httpx import Response

from lms.identity.models import User
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeUser
from tests.integration.catalog.helpers import BuiltCourse, Client, build_course, instructor, learner

# Strings that exist only in answer keys: none may appear in any response before submission.
KEY_SENTINELS = ('"correct"', '"accepted"', '"tolerance"', '"match"', "zebra-sentinel", "27182.818", "correct_answer")

OPTIONS = [{"id": "opt-a", "text": "Report it"}, {"id": "opt-b", "text": "Ignore it"}, {"id": "opt-c", "text": "Reply"}]
QUESTIONS: list[dict[str, Any]] = [
    {"type": "single_choice", "prompt": "Suspicious e-mail?", "options": OPTIONS, "correct": "opt-a"},
    {
        "type": "multiple_choice",
        "prompt": "Signs of phishing?",
        "options": [
            {"id": "m1", "text": "Urgency"},
            {"id": "m2", "text": "Odd sender"},
            {"id": "m3", "text": "Company logo"},
            {"id": "m4", "text": "Spelling errors"},
        ],
        "correct": ["m1", "m2", "m4"],
        "scoring": "partial",
    },
    {"type": "true_false", "prompt": "Share passwords with IT?", "correct": False},
    {"type": "short_answer", "prompt": "Codename?", "accepted": ["zebra-sentinel"]},
    {"type": "numeric", "prompt": "Magic number?", "answer": 27182.818, "tolerance": 0.01},
    {
        "type": "ordering",
        "prompt": "Incident steps",
        "items": [{"id": "s1", "text": "Detect"}, {"id": "s2", "text": "Contain"}, {"id": "s3", "text": "Recover"}],
    },
    {
        "type": "matching",
        "prompt": "Pair terms",
        "prompts": [{"id": "p1", "text": "MFA", "match": "c1"}, {"id": "p2", "text": "VPN", "match": "c2"}],
        "choices": [{"id": "c1", "text": "Second factor"}, {"id": "c2", "text": "Tunnel"}],
    },
]
CORRECT: dict[str, Any] = {
    "single_choice": "opt-a",
    "multiple_choice": ["m1", "m2", "m4"],
    "true_false": False,
    "short_answer": "  Zebra-Sentinel ",
    "numeric": 27182.81,
    "ordering": ["s1", "s2", "s3"],
    "matching": {"p1": "c1", "p2": "c2"},
}
WRONG: dict[str, Any] = {
    "single_choice": "opt-b",
    "multiple_choice": ["m3"],
    "true_false": True,
    "short_answer": "horse",
    "numeric": 1.0,
    "ordering": ["s3", "s2", "s1"],
    "matching": {"p1": "c2", "p2": "c1"},
}


def assert_no_key(response: Response) -> None:
    """Scan the raw body: no answer-key field or key value may be in it."""
    for sentinel in KEY_SENTINELS:
        assert sentinel not in response.text, f"{sentinel} leaked in {response.request.url}"


@dataclass
class QuizSetup:
    course: BuiltCourse
    base: str
    author: dict[str, str]
    lesson_id: str
    bank_id: str
    quiz_id: str
    question_ids: dict[str, str] = field(default_factory=dict)  # type -> id


async def enrol(client: Client, base: str, course_id: str, headers: dict[str, str]) -> None:
    response = await client.post(f"{base}/api/v1/enrollments", json={"course_id": course_id}, headers=headers)
    assert response.status_code in (200, 201), response.text


async def enrolled_learner(
    client: Client, make_user: MakeUser, login: Login, tenant: Tenant, setup: QuizSetup
) -> tuple[User, dict[str, str]]:
    user, headers = await learner(make_user, login, tenant)
    await enrol(client, setup.base, setup.course.id, headers)
    return user, headers


async def build_quiz(
    client: Client,
    make_user: MakeUser,
    login: Login,
    tenant: Tenant,
    questions: list[dict[str, Any]] | None = None,
    count: int | None = None,
    **rules: Any,
) -> QuizSetup:
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(
        client, tenant, author, lessons=[{"title": "Check", "type": "quiz"}, {"title": "Read", "type": "text"}]
    )
    base = course.base
    bank = await client.post(
        f"{base}/api/v1/question-banks", json={"course_id": course.id, "title": "Phishing"}, headers=author
    )
    assert bank.status_code == 201, bank.text
    bank_id = bank.json()["id"]
    ids: dict[str, str] = {}
    for payload in questions or QUESTIONS:
        added = await client.post(
            f"{base}/api/v1/question-banks/{bank_id}/questions", json={"payload": payload}, headers=author
        )
        assert added.status_code == 201, added.text
        ids[payload["type"] if questions is None else added.json()["id"]] = added.json()["id"]
    body = {
        "lesson_id": course.lessons["Check"],
        "title": "Phishing check",
        "pools": [{"bank_id": bank_id, "count": count or len(ids)}],
        **rules,
    }
    quiz = await client.post(f"{base}/api/v1/quizzes", json=body, headers=author)
    assert quiz.status_code == 201, quiz.text
    return QuizSetup(course, base, author, course.lessons["Check"], bank_id, quiz.json()["id"], ids)


def answers_for(attempt: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    return {q["question_id"]: table[q["question"]["type"]] for q in attempt["questions"]}
