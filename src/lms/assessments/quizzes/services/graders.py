"""Question types: typed payloads with a `type` discriminator, answer validation, grading, redaction.

A question's payload is stored as JSON; adding a type means adding a Struct and its grader here,
never a schema change. Every answer is validated against the question (shape and known ids) before
anything is saved, and the public view shown during an attempt never carries the answer key.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import re2

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Scoring = Literal["all_or_nothing", "partial"]
MAX_TEXT_ANSWER = 1000


class Option(msgspec.Struct, frozen=True):
    id: Id
    text: Text


class MatchPrompt(msgspec.Struct, frozen=True):
    id: Id
    text: Text
    match: Id  # id of the right-hand choice


class SingleChoice(msgspec.Struct, frozen=True, tag="single_choice", tag_field="type"):
    prompt: Text
    options: Annotated[list[Option], msgspec.Meta(min_length=2, max_length=20)]
    correct: Id


class MultipleChoice(msgspec.Struct, frozen=True, tag="multiple_choice", tag_field="type"):
    prompt: Text
    options: Annotated[list[Option], msgspec.Meta(min_length=2, max_length=20)]
    correct: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=20)]
    scoring: Scoring = "all_or_nothing"


class TrueFalse(msgspec.Struct, frozen=True, tag="true_false", tag_field="type"):
    prompt: Text
    correct: bool


class ShortAnswer(msgspec.Struct, frozen=True, tag="short_answer", tag_field="type"):
    """`exact`: equals one accepted answer; `keywords`: contains every keyword; `pattern`: regex full match.

    Answers and keys are compared after case folding and whitespace collapsing.
    """

    prompt: Text
    accepted: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]], msgspec.Meta(min_length=1)]
    match: Literal["exact", "keywords", "pattern"] = "exact"


class Numeric(msgspec.Struct, frozen=True, tag="numeric", tag_field="type"):
    prompt: Text
    answer: float
    tolerance: Annotated[float, msgspec.Meta(ge=0)] = 0.0


class Ordering(msgspec.Struct, frozen=True, tag="ordering", tag_field="type"):
    """`items` in their correct order; shown shuffled."""

    prompt: Text
    items: Annotated[list[Option], msgspec.Meta(min_length=2, max_length=20)]
    scoring: Scoring = "all_or_nothing"


class Matching(msgspec.Struct, frozen=True, tag="matching", tag_field="type"):
    prompt: Text
    prompts: Annotated[list[MatchPrompt], msgspec.Meta(min_length=2, max_length=20)]
    choices: Annotated[list[Option], msgspec.Meta(min_length=2, max_length=20)]
    scoring: Scoring = "partial"


Question = SingleChoice | MultipleChoice | TrueFalse | ShortAnswer | Numeric | Ordering | Matching
QUESTION_TYPES = ("single_choice", "multiple_choice", "true_false", "short_answer", "numeric", "ordering", "matching")


class AnswerError(ValueError):
    """An answer of the wrong shape, or naming an id the question does not have."""


class QuestionError(ValueError):
    """A question payload that is well typed but inconsistent (a correct id that is not an option)."""


@dataclass(frozen=True)
class Graded:
    score: float
    correct: bool


def parse_question(payload: Mapping[str, Any]) -> Question:
    """Decode and check a stored or submitted payload."""
    question: Question = msgspec.convert(payload, Question)
    check_question(question)
    return question


def _unique(ids: list[str], noun: str) -> set[str]:
    if len(set(ids)) != len(ids):
        raise QuestionError(f"{noun} ids must be unique")
    return set(ids)


def check_question(q: Question) -> None:
    if isinstance(q, SingleChoice | MultipleChoice):
        ids = _unique([o.id for o in q.options], "option")
        correct = [q.correct] if isinstance(q, SingleChoice) else q.correct
        unknown = [c for c in correct if c not in ids]
        if unknown:
            raise QuestionError(f"correct answer {unknown[0]!r} is not one of the options")
        if isinstance(q, MultipleChoice):
            _unique(q.correct, "correct")
    elif isinstance(q, Ordering):
        _unique([i.id for i in q.items], "item")
    elif isinstance(q, Matching):
        _unique([p.id for p in q.prompts], "prompt")
        choices = _unique([c.id for c in q.choices], "choice")
        for prompt in q.prompts:
            if prompt.match not in choices:
                raise QuestionError(f"prompt {prompt.id!r} matches {prompt.match!r}, which is not a choice")
    elif isinstance(q, ShortAnswer) and q.match == "pattern":
        for pattern in q.accepted:
            try:
                answer_pattern(pattern)
            except re2.error as exc:
                reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
                raise QuestionError(
                    f"invalid pattern {pattern!r}: {reason} (RE2 syntax: no backreferences or lookarounds)"
                ) from exc
    elif isinstance(q, Numeric) and not (math.isfinite(q.answer) and math.isfinite(q.tolerance)):
        raise QuestionError("numeric answers and tolerances must be finite")


@functools.lru_cache(maxsize=1024)
def answer_pattern(pattern: str) -> Any:
    """An instructor's short-answer pattern, case-insensitive. RE2 matches in linear time, so no
    pattern (`(a+)+$`, say) can make grading a learner's answer hang a worker."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return re2.compile(pattern, options)


def shuffle_targets(q: Question) -> list[str]:
    """Ids whose display order is shuffled per attempt (options, ordering items, matching choices)."""
    if isinstance(q, SingleChoice | MultipleChoice):
        return [o.id for o in q.options]
    if isinstance(q, Ordering):
        return [i.id for i in q.items]
    if isinstance(q, Matching):
        return [c.id for c in q.choices]
    return []


def public_view(q: Question, order: list[str]) -> dict[str, Any]:
    """What a learner sees before submitting: the prompt and options in the attempt's order, no key."""
    view: dict[str, Any] = {"type": q.__struct_config__.tag, "prompt": q.prompt}
    if isinstance(q, SingleChoice | MultipleChoice | Ordering):
        source = q.items if isinstance(q, Ordering) else q.options
        texts = {o.id: o.text for o in source}
        view["items" if isinstance(q, Ordering) else "options"] = [{"id": i, "text": texts[i]} for i in order]
    elif isinstance(q, Matching):
        texts = {c.id: c.text for c in q.choices}
        view["prompts"] = [{"id": p.id, "text": p.text} for p in q.prompts]
        view["choices"] = [{"id": i, "text": texts[i]} for i in order]
    return view


def answer_key(q: Question) -> Any:
    """The correct answer in the answer's own shape, for feedback after submission."""
    if isinstance(q, SingleChoice | TrueFalse):
        return q.correct
    if isinstance(q, MultipleChoice):
        return sorted(q.correct)
    if isinstance(q, ShortAnswer):
        return list(q.accepted)
    if isinstance(q, Numeric):
        return {"answer": q.answer, "tolerance": q.tolerance}
    if isinstance(q, Ordering):
        return [i.id for i in q.items]
    return {p.id: p.match for p in q.prompts}


def _text(value: Any, limit: int = MAX_TEXT_ANSWER) -> str:
    if not isinstance(value, str):
        raise AnswerError("expected a text answer")
    if len(value) > limit:
        raise AnswerError(f"answer is longer than {limit} characters")
    return value


def _known(value: str, ids: set[str], noun: str) -> str:
    if value not in ids:
        raise AnswerError(f"unknown {noun} id {value!r}")
    return value


def validate_answer(q: Question, answer: Any) -> Any:
    """The answer normalised to its canonical shape, or AnswerError naming what is wrong."""
    if isinstance(q, SingleChoice):
        return _known(_text(answer, 64), {o.id for o in q.options}, "option")
    if isinstance(q, MultipleChoice):
        if not isinstance(answer, list):
            raise AnswerError("expected a list of option ids")
        ids = {o.id for o in q.options}
        chosen = [_known(_text(a, 64), ids, "option") for a in answer]
        if len(set(chosen)) != len(chosen):
            raise AnswerError("an option is chosen more than once")
        return sorted(chosen)
    if isinstance(q, TrueFalse):
        if not isinstance(answer, bool):
            raise AnswerError("expected true or false")
        return answer
    if isinstance(q, ShortAnswer):
        return _text(answer)
    if isinstance(q, Numeric):
        if isinstance(answer, bool) or not isinstance(answer, int | float) or not math.isfinite(answer):
            raise AnswerError("expected a finite number")
        return float(answer)
    if isinstance(q, Ordering):
        if not isinstance(answer, list):
            raise AnswerError("expected a list of item ids in order")
        ids = {i.id for i in q.items}
        order = [_known(_text(a, 64), ids, "item") for a in answer]
        if sorted(order) != sorted(ids):
            raise AnswerError("the order must list every item exactly once")
        return order
    if not isinstance(answer, dict):
        raise AnswerError("expected an object mapping prompt ids to choice ids")
    prompts = {p.id for p in q.prompts}
    choices = {c.id for c in q.choices}
    return {_known(_text(k, 64), prompts, "prompt"): _known(_text(v, 64), choices, "choice") for k, v in answer.items()}


def normalise_text(value: str) -> str:
    return " ".join(value.casefold().split())


def _fraction(right: int, total: int, scoring: Scoring) -> float:
    if scoring == "all_or_nothing":
        return 1.0 if right == total else 0.0
    return right / total if total else 0.0


def grade(q: Question, answer: Any, points: float) -> Graded:
    """Score in [0, points] for a validated answer (None = unanswered, scores 0)."""
    if answer is None:
        return Graded(0.0, False)
    fraction = _grade_fraction(q, answer)
    fraction = min(1.0, max(0.0, fraction))
    # Rounded for storage, then clamped: rounding must never lift a score above the maximum.
    return Graded(min(points, round(points * fraction, 4)), fraction >= 1.0)


def _grade_fraction(q: Question, answer: Any) -> float:
    if isinstance(q, SingleChoice | TrueFalse):
        return 1.0 if answer == q.correct else 0.0
    if isinstance(q, MultipleChoice):
        chosen, correct = set(answer), set(q.correct)
        if q.scoring == "all_or_nothing":
            return 1.0 if chosen == correct else 0.0
        # Each right choice earns, each wrong choice costs, never below zero.
        wrong = len(q.options) - len(correct)
        hits = len(chosen & correct) / len(correct)
        misses = len(chosen - correct) / wrong if wrong else 0.0
        return max(0.0, hits - misses)
    if isinstance(q, ShortAnswer):
        given = normalise_text(answer)
        if q.match == "exact":
            return 1.0 if given in {normalise_text(a) for a in q.accepted} else 0.0
        if q.match == "keywords":
            words = set(re.findall(r"\w+", given))
            return 1.0 if all(normalise_text(k) in words or normalise_text(k) in given for k in q.accepted) else 0.0
        return 1.0 if any(answer_pattern(p).fullmatch(given) for p in q.accepted) else 0.0
    if isinstance(q, Numeric):
        return 1.0 if abs(float(answer) - q.answer) <= q.tolerance + 1e-9 else 0.0
    if isinstance(q, Ordering):
        expected = [i.id for i in q.items]
        right = sum(1 for a, b in zip(answer, expected, strict=False) if a == b)
        return _fraction(right, len(expected), q.scoring)
    right = sum(1 for p in q.prompts if answer.get(p.id) == p.match)
    return _fraction(right, len(q.prompts), q.scoring)


def response_label(q: Question, answer: Any) -> str | None:
    """A short label of a wrong answer, for 'most chosen wrong option' in item analysis."""
    if answer is None:
        return None
    if isinstance(q, MultipleChoice):
        return ",".join(answer)
    if isinstance(q, ShortAnswer):
        return normalise_text(answer)
    if isinstance(q, Ordering):
        return ">".join(answer)
    if isinstance(q, Matching):
        return ",".join(f"{k}={v}" for k, v in sorted(answer.items()))
    return str(answer).lower() if isinstance(answer, bool) else str(answer)
