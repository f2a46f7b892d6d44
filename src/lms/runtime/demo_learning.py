"""Demo content for `lms serve --demo`: an active learner with a known password, enrolled in a short
published course (a text lesson, then a quiz). Created once; later starts find it and change nothing."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.quizzes.schemas import BankIn, QuestionIn, QuizIn
from lms.assessments.quizzes.services.authoring import QuizAuthoring
from lms.catalog.models import Course
from lms.catalog.schemas import CourseCreate, LessonCreate, LessonType, ModuleCreate
from lms.catalog.services import CatalogueService
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.identity.guards import Principal
from lms.identity.models import User
from lms.identity.schemas import UserStatus
from lms.identity.signin.services.passwords import hash_password
from lms.learning.services import EnrollmentService
from lms.tenancy.models import Tenant

DEMO_TENANT = "demo"
LEARNER_EMAIL = "learner@demo.localhost"
# For the local demo only: printed at start-up so a first visitor can sign in.
LEARNER_PASSWORD = "try-the-demo-course"
AUTHOR_EMAIL = "instructor@demo.localhost"
COURSE_SLUG = "demo-working-safely-online"

READING = """Phishing e-mails pretend to come from someone you trust.

Look for urgency, an unexpected sender and links whose address does not match the text.

When in doubt, report the e-mail instead of replying or clicking."""

QUESTIONS: list[dict[str, Any]] = [
    {
        "type": "single_choice",
        "prompt": "You receive an unexpected e-mail asking you to confirm your password. What do you do?",
        "options": [
            {"id": "report", "text": "Report it"},
            {"id": "reply", "text": "Reply with the password"},
            {"id": "ignore", "text": "Forward it to a colleague"},
        ],
        "correct": "report",
    },
    {
        "type": "multiple_choice",
        "prompt": "Which are signs of phishing?",
        "options": [
            {"id": "urgency", "text": "Urgency"},
            {"id": "sender", "text": "An unexpected sender"},
            {"id": "logo", "text": "The company logo"},
        ],
        "correct": ["urgency", "sender"],
        "scoring": "partial",
    },
    {"type": "true_false", "prompt": "IT will never ask for your password by e-mail.", "correct": True},
]


async def ensure_demo_learning(settings: Settings) -> tuple[str, str] | None:
    """(e-mail, password) of the demo learner, or None when there is no demo tenant."""
    db = create_database(settings)
    try:
        async with db.operator_sessions() as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.slug == DEMO_TENANT))
        if tenant is None:
            return None
        async with tenant_session(db.app_sessions, tenant.id) as session:
            learner = await _user(session, tenant.id, LEARNER_EMAIL, "Demo Learner", "learner", LEARNER_PASSWORD)
            author = await _user(session, tenant.id, AUTHOR_EMAIL, "Demo Instructor", "instructor", None)
            if await session.scalar(select(Course.id).where(Course.slug == COURSE_SLUG)) is None:
                await _build_course(session, Principal(author.id, tenant.id, frozenset({"instructor"})), learner)
        return LEARNER_EMAIL, LEARNER_PASSWORD
    finally:
        await db.dispose()


async def _user(session: AsyncSession, tenant_id: Any, email: str, name: str, role: str, password: str | None) -> User:
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(tenant_id=tenant_id, email=email, display_name=name, roles=[role], status=UserStatus.ACTIVE)
        user.password_hash = await hash_password(password) if password else None
        session.add(user)
        await session.flush()
    return user


async def _build_course(session: AsyncSession, author: Principal, learner: User) -> None:
    catalogue = CatalogueService(session, author)
    course = await catalogue.create_course(
        CourseCreate(
            title="Working safely online",
            slug=COURSE_SLUG,
            summary="Spot phishing e-mails and report them: a short reading and a quiz.",
        )
    )
    module = await catalogue.add_module(course.id, ModuleCreate(title="Phishing"))
    await catalogue.add_lesson(
        course.id, module.id, LessonCreate(title="Spotting phishing", type=LessonType.TEXT, content={"body": READING})
    )
    quiz_lesson = await catalogue.add_lesson(
        course.id, module.id, LessonCreate(title="Check your knowledge", type=LessonType.QUIZ)
    )
    authoring = QuizAuthoring(session, author)
    bank = await authoring.create_bank(BankIn(course_id=course.id, title="Phishing"))
    for payload in QUESTIONS:
        await authoring.add_question(bank.id, QuestionIn(payload=payload))
    await authoring.create_quiz(
        msgspec.convert(
            {
                "lesson_id": str(quiz_lesson.id),
                "title": "Phishing check",
                "pools": [{"bank_id": str(bank.id), "count": len(QUESTIONS)}],
                "time_limit_seconds": 600,
                "pass_pct": 60,
            },
            QuizIn,
        )
    )
    await catalogue.publish(course.id, "First version", None)
    learner_principal = Principal(learner.id, learner.tenant_id, frozenset({"learner"}))
    await EnrollmentService(session, learner_principal).enroll(course.id)
