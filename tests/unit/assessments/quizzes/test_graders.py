"""Each question type's grader: property-based checks of bounds, canonical answers and bad shapes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms.assessments.quizzes.services.graders import (
    AnswerError,
    QuestionError,
    answer_key,
    grade,
    parse_question,
    public_view,
    shuffle_targets,
    validate_answer,
)

ids = st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=6)
points = st.floats(min_value=0.5, max_value=20, allow_nan=False)


@st.composite
def choice_questions(draw: st.DrawFn, multiple: bool) -> dict[str, Any]:
    option_ids = draw(st.lists(ids, min_size=2, max_size=8, unique=True))
    options = [{"id": o, "text": f"Option {o}"} for o in option_ids]
    if multiple:
        correct = draw(st.lists(st.sampled_from(option_ids), min_size=1, unique=True))
        scoring = draw(st.sampled_from(["all_or_nothing", "partial"]))
        return {"type": "multiple_choice", "prompt": "Pick", "options": options, "correct": correct, "scoring": scoring}
    return {"type": "single_choice", "prompt": "Pick", "options": options, "correct": draw(st.sampled_from(option_ids))}


@settings(max_examples=150, deadline=None)
@given(payload=choice_questions(multiple=True), data=st.data(), max_points=points)
def test_multiple_choice_partial_credit_stays_within_bounds(
    payload: dict[str, Any], data: Any, max_points: float
) -> None:
    question = parse_question(payload)
    option_ids = [o["id"] for o in payload["options"]]
    chosen = data.draw(st.lists(st.sampled_from(option_ids), unique=True))
    result = grade(question, validate_answer(question, chosen), max_points)
    assert 0.0 <= result.score <= max_points + 1e-9
    assert result.correct == (set(chosen) == set(payload["correct"]))
    full = grade(question, validate_answer(question, payload["correct"]), max_points)
    assert full.score == pytest.approx(max_points, abs=1e-3)


@settings(max_examples=100, deadline=None)
@given(payload=choice_questions(multiple=False), data=st.data())
def test_single_choice_scores_only_the_key(payload: dict[str, Any], data: Any) -> None:
    question = parse_question(payload)
    chosen = data.draw(st.sampled_from([o["id"] for o in payload["options"]]))
    result = grade(question, validate_answer(question, chosen), 2)
    assert result.score == (2 if chosen == payload["correct"] else 0)


@settings(max_examples=100, deadline=None)
@given(payload=choice_questions(multiple=False), bogus=st.text(min_size=1, max_size=10))
def test_unknown_option_id_is_rejected_by_name(payload: dict[str, Any], bogus: str) -> None:
    question = parse_question(payload)
    if bogus in {o["id"] for o in payload["options"]}:
        return
    with pytest.raises(AnswerError, match="unknown option id"):
        validate_answer(question, bogus)


@settings(max_examples=100, deadline=None)
@given(item_ids=st.lists(ids, min_size=2, max_size=8, unique=True), data=st.data(), partial=st.booleans())
def test_ordering_scores_positions_and_requires_a_permutation(item_ids: list[str], data: Any, partial: bool) -> None:
    scoring = "partial" if partial else "all_or_nothing"
    payload = {
        "type": "ordering",
        "prompt": "Order",
        "items": [{"id": i, "text": i} for i in item_ids],
        "scoring": scoring,
    }
    question = parse_question(payload)
    order = data.draw(st.permutations(item_ids))
    result = grade(question, validate_answer(question, list(order)), 4)
    assert 0 <= result.score <= 4
    assert result.correct == (list(order) == item_ids)
    with pytest.raises(AnswerError, match="every item exactly once"):
        validate_answer(question, item_ids[:-1])


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(ids, min_size=2, max_size=6, unique=True), data=st.data())
def test_matching_partial_credit_within_bounds(pairs: list[str], data: Any) -> None:
    payload = {
        "type": "matching",
        "prompt": "Match",
        "prompts": [{"id": f"p{p}", "text": p, "match": f"c{p}"} for p in pairs],
        "choices": [{"id": f"c{p}", "text": p} for p in pairs],
    }
    question = parse_question(payload)
    answer = {f"p{p}": data.draw(st.sampled_from([f"c{c}" for c in pairs])) for p in pairs}
    result = grade(question, validate_answer(question, answer), 3)
    right = sum(1 for p in pairs if answer[f"p{p}"] == f"c{p}")
    assert result.score == pytest.approx(3 * right / len(pairs), abs=1e-3)
    with pytest.raises(AnswerError, match="unknown choice id"):
        validate_answer(question, {f"p{pairs[0]}": "nope!"})


@settings(max_examples=150, deadline=None)
@given(
    target=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    tolerance=st.floats(min_value=0, max_value=10, allow_nan=False),
    delta=st.floats(min_value=-20, max_value=20, allow_nan=False),
)
def test_numeric_tolerance(target: float, tolerance: float, delta: float) -> None:
    question = parse_question({"type": "numeric", "prompt": "How many?", "answer": target, "tolerance": tolerance})
    result = grade(question, validate_answer(question, target + delta), 1)
    if abs(delta) < tolerance * 0.999:
        assert result.correct
    if abs(delta) > tolerance * 1.001 + 1e-6:
        assert not result.correct


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abcdefXYZ", min_size=1, max_size=8), min_size=1, max_size=4),
    spaces=st.lists(st.sampled_from([" ", "  ", "\t", "\n "]), min_size=5, max_size=5),
)
def test_short_answer_is_case_and_whitespace_tolerant(words: list[str], spaces: list[str]) -> None:
    key = " ".join(words)
    question = parse_question({"type": "short_answer", "prompt": "Name it", "accepted": [key]})
    messy = spaces[0] + "".join(w.swapcase() + spaces[(i + 1) % 5] for i, w in enumerate(words))
    assert grade(question, validate_answer(question, messy), 1).correct
    assert not grade(question, validate_answer(question, key + "zz"), 1).correct


def test_short_answer_keywords_and_patterns() -> None:
    keywords = parse_question(
        {"type": "short_answer", "prompt": "Why?", "accepted": ["lock", "screen"], "match": "keywords"}
    )
    assert grade(keywords, "Always LOCK your   screen when away", 2).score == 2
    assert grade(keywords, "lock the door", 2).score == 0
    pattern = parse_question({"type": "short_answer", "prompt": "Code?", "accepted": [r"ab-\d{3}"], "match": "pattern"})
    assert grade(pattern, " AB-123 ", 1).correct
    assert not grade(pattern, "ab-12", 1).correct
    with pytest.raises(QuestionError, match="invalid pattern"):
        parse_question({"type": "short_answer", "prompt": "x", "accepted": ["("], "match": "pattern"})


def test_pattern_answers_cannot_hang_grading() -> None:
    """`(a+)+$` takes exponential time in a backtracking engine on "aaa...b"; RE2 answers at once."""
    nested = parse_question({"type": "short_answer", "prompt": "x", "accepted": [r"(a+)+"], "match": "pattern"})
    started = time.perf_counter()
    assert not grade(nested, "a" * 10_000 + "b", 1).correct
    assert time.perf_counter() - started < 5.0  # a backtracking engine would not finish at all
    assert grade(nested, "AAAA", 1).correct
    with pytest.raises(QuestionError, match="no backreferences"):
        parse_question({"type": "short_answer", "prompt": "x", "accepted": [r"(a)\1"], "match": "pattern"})


@pytest.mark.parametrize(
    ("payload", "answer", "message"),
    [
        ({"type": "true_false", "prompt": "Sky is blue", "correct": True}, "true", "true or false"),
        ({"type": "numeric", "prompt": "n", "answer": 3}, True, "finite number"),
        ({"type": "numeric", "prompt": "n", "answer": 3}, "3", "finite number"),
        ({"type": "short_answer", "prompt": "s", "accepted": ["a"]}, ["a"], "text answer"),
        ({"type": "short_answer", "prompt": "s", "accepted": ["a"]}, "x" * 1001, "longer than"),
        (
            {
                "type": "multiple_choice",
                "prompt": "m",
                "options": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
                "correct": ["a"],
            },
            "a",
            "list of option ids",
        ),
        (
            {
                "type": "multiple_choice",
                "prompt": "m",
                "options": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
                "correct": ["a"],
            },
            ["a", "a"],
            "more than once",
        ),
    ],
)
def test_answers_of_the_wrong_shape_are_rejected(payload: dict[str, Any], answer: Any, message: str) -> None:
    with pytest.raises(AnswerError, match=message):
        validate_answer(parse_question(payload), answer)


def test_inconsistent_questions_are_rejected() -> None:
    options = [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]
    with pytest.raises(QuestionError, match="not one of the options"):
        parse_question({"type": "single_choice", "prompt": "p", "options": options, "correct": "z"})
    with pytest.raises(QuestionError, match="unique"):
        parse_question({"type": "ordering", "prompt": "p", "items": [options[0], options[0]]})


@settings(max_examples=80, deadline=None)
@given(payload=st.one_of(choice_questions(multiple=True), choice_questions(multiple=False)))
def test_public_view_never_contains_the_key_fields(payload: dict[str, Any]) -> None:
    question = parse_question(payload)
    view = public_view(question, shuffle_targets(question))
    assert "correct" not in view
    assert [o["id"] for o in view["options"]] == [o["id"] for o in payload["options"]]
    assert answer_key(question) is not None
