"""Quiz API: question banks and questions (staff), quizzes, attempts, results, item analysis."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lms.assessments.quizzes.schemas import (
    AnswersIn,
    AttemptOut,
    AttemptSummary,
    BankIn,
    BankOut,
    ItemAnalysisOut,
    QuestionIn,
    QuestionOut,
    QuestionState,
    QuizIn,
    QuizOut,
    QuizSettingsIn,
    SubmitIn,
)
from lms.assessments.quizzes.services.attempts import AttemptService, attempt_summary
from lms.assessments.quizzes.services.authoring import QuizAuthoring, question_out, quiz_out
from lms.catalog.guards import requires_author
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.pagination import Page, PageParams


async def provide_authoring(db_session: DbSession, principal: NamedDependency[Principal]) -> QuizAuthoring:
    return QuizAuthoring(db_session, principal)


async def provide_attempts(db_session: DbSession, principal: NamedDependency[Principal]) -> AttemptService:
    return AttemptService(db_session, principal)


_DEPENDENCIES = {
    "authoring": Provide(provide_authoring),
    "attempts": Provide(provide_attempts),
}


class QuestionBankController(Controller):
    """Banks and their questions: course staff only (questions carry their answer keys)."""

    path = "/api/v1/question-banks"
    guards = [requires_author]
    dependencies = _DEPENDENCIES
    tags = ["assessments"]

    @post("/")
    async def create_bank(self, authoring: NamedDependency[QuizAuthoring], data: JSONBody[BankIn]) -> BankOut:
        """Create a question bank for a course."""
        return await authoring.bank_out(await authoring.create_bank(data))

    @get("/")
    async def list_banks(
        self, authoring: NamedDependency[QuizAuthoring], course_id: FromQuery[UUID], page: NamedDependency[PageParams]
    ) -> Page[BankOut]:
        """The question banks of one course."""
        banks = page.slice(await authoring.list_banks(course_id))
        return page.of([await authoring.bank_out(b) for b in banks.items], banks.total)

    @get("/{bank_id:uuid}")
    async def get_bank(self, authoring: NamedDependency[QuizAuthoring], bank_id: FromPath[UUID]) -> BankOut:
        """One question bank."""
        return await authoring.bank_out(await authoring.bank(bank_id))

    @post("/{bank_id:uuid}/questions")
    async def add_question(
        self, authoring: NamedDependency[QuizAuthoring], bank_id: FromPath[UUID], data: JSONBody[QuestionIn]
    ) -> QuestionOut:
        """Add a question to a bank."""
        return question_out(await authoring.add_question(bank_id, data))

    @put("/{bank_id:uuid}/questions/{question_id:uuid}")
    async def update_question(
        self,
        authoring: NamedDependency[QuizAuthoring],
        bank_id: FromPath[UUID],
        question_id: FromPath[UUID],
        data: JSONBody[QuestionIn],
    ) -> QuestionOut:
        """Replace a question's content; attempts already started keep the copy they were given."""
        return question_out(await authoring.update_question(bank_id, question_id, data))

    @patch("/{bank_id:uuid}/questions/{question_id:uuid}")
    async def set_question_state(
        self,
        authoring: NamedDependency[QuizAuthoring],
        bank_id: FromPath[UUID],
        question_id: FromPath[UUID],
        data: JSONBody[QuestionState],
    ) -> QuestionOut:
        """Retire a question (`{"active": false}`) or bring it back."""
        return question_out(await authoring.set_question_active(bank_id, question_id, data.active))

    @get("/{bank_id:uuid}/questions")
    async def list_questions(
        self, authoring: NamedDependency[QuizAuthoring], bank_id: FromPath[UUID], page: NamedDependency[PageParams]
    ) -> Page[QuestionOut]:
        """The questions of a bank."""
        items, total = await authoring.list_questions(bank_id, page.limit, page.offset)
        return Page([question_out(q) for q in items], total, page.limit, page.offset)


class QuizController(Controller):
    path = "/api/v1/quizzes"
    guards = [requires_user]
    dependencies = _DEPENDENCIES
    tags = ["assessments"]

    @post("/", guards=[requires_author])
    async def create_quiz(self, authoring: NamedDependency[QuizAuthoring], data: JSONBody[QuizIn]) -> QuizOut:
        """Create a quiz that draws its questions from banks."""
        return quiz_out(await authoring.create_quiz(data), staff=True)

    @put("/{quiz_id:uuid}", guards=[requires_author])
    async def update_quiz(
        self, authoring: NamedDependency[QuizAuthoring], quiz_id: FromPath[UUID], data: JSONBody[QuizSettingsIn]
    ) -> QuizOut:
        """Change a quiz's rules; attempts under way keep their questions and deadline."""
        return quiz_out(await authoring.update_quiz(quiz_id, data), staff=True)

    @get("/{quiz_id:uuid}")
    async def get_quiz(self, authoring: NamedDependency[QuizAuthoring], quiz_id: FromPath[UUID]) -> QuizOut:
        """Rules of the quiz for enrolled learners; staff also see the pools."""
        quiz, staff = await authoring.visible_quiz(quiz_id)
        return quiz_out(quiz, staff)

    @post(
        "/{quiz_id:uuid}/attempts",
        responses={200: ResponseSpec(AttemptOut, description="The attempt still in progress (resumed).")},
    )
    async def start_attempt(
        self, attempts: NamedDependency[AttemptService], quiz_id: FromPath[UUID]
    ) -> Response[AttemptOut]:
        """201 with a new attempt, or 200 with the attempt still in progress (resume)."""
        attempt, quiz, created = await attempts.start(quiz_id)
        out = await attempts.out(attempt, quiz)
        return Response(out, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get("/{quiz_id:uuid}/attempts")
    async def list_attempts(
        self, attempts: NamedDependency[AttemptService], quiz_id: FromPath[UUID], page: NamedDependency[PageParams]
    ) -> Page[AttemptSummary]:
        """Your attempts (all kept); course staff see everyone's."""
        items, total = await attempts.list_attempts(quiz_id, page.limit, page.offset)
        return Page([attempt_summary(a) for a in items], total, page.limit, page.offset)

    @get("/{quiz_id:uuid}/analysis", guards=[requires_author])
    async def item_analysis(
        self, authoring: NamedDependency[QuizAuthoring], quiz_id: FromPath[UUID]
    ) -> ItemAnalysisOut:
        """Per-question statistics of the quiz's submitted attempts."""
        return await authoring.item_analysis(quiz_id)


class AttemptController(Controller):
    path = "/api/v1/quiz-attempts"
    guards = [requires_user]
    dependencies = _DEPENDENCIES
    tags = ["assessments"]

    @get("/{attempt_id:uuid}")
    async def get_attempt(self, attempts: NamedDependency[AttemptService], attempt_id: FromPath[UUID]) -> AttemptOut:
        """Resume (exactly what was shown) or review, as the quiz's review policy allows."""
        attempt, quiz = await attempts.get(attempt_id, own=False)
        return await attempts.out(attempt, quiz)

    @put("/{attempt_id:uuid}/answers")
    async def save_answers(
        self, attempts: NamedDependency[AttemptService], attempt_id: FromPath[UUID], data: JSONBody[AnswersIn]
    ) -> AttemptOut:
        """Save answers of an attempt in progress (autosave)."""
        return await attempts.out(await attempts.save_answers(attempt_id, data.answers))

    @post("/{attempt_id:uuid}/submit", status_code=HTTP_200_OK)
    async def submit(
        self, attempts: NamedDependency[AttemptService], attempt_id: FromPath[UUID], data: JSONBody[SubmitIn]
    ) -> AttemptOut:
        """Submit an attempt for grading."""
        attempt, quiz = await attempts.submit(attempt_id, data.answers)
        return await attempts.out(attempt, quiz)
