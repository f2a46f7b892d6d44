"""Seeded shuffles are reproducible per key; peer assignment is complete, fair and never self-review."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms.assessments.assignments.services.peer import assign_reviewers, pick_replacement, plan_replacements
from lms.assessments.quizzes.services.shuffle import attempt_seed, fisher_yates

uuids = st.uuids(version=4)


@settings(max_examples=200, deadline=None)
@given(
    user=uuids, quiz=uuids, number=st.integers(min_value=1, max_value=50), size=st.integers(min_value=0, max_value=60)
)
def test_shuffle_is_a_deterministic_permutation_per_key(
    user: uuid.UUID, quiz: uuid.UUID, number: int, size: int
) -> None:
    items = list(range(size))
    first = fisher_yates(items, attempt_seed(user, quiz, number))
    again = fisher_yates(items, attempt_seed(user, quiz, number))
    assert first == again
    assert sorted(first) == items


@settings(max_examples=100, deadline=None)
@given(user=uuids, quiz=uuids, number=st.integers(min_value=1, max_value=50))
def test_shuffle_differs_between_attempts(user: uuid.UUID, quiz: uuid.UUID, number: int) -> None:
    items = list(range(20))  # 20! orders: a collision between two attempts is practically impossible
    assert fisher_yates(items, attempt_seed(user, quiz, number)) != fisher_yates(
        items, attempt_seed(user, quiz, number + 1)
    )
    other_user = uuid.UUID(int=(user.int + 1) % (1 << 128))
    assert fisher_yates(items, attempt_seed(user, quiz, number)) != fisher_yates(
        items, attempt_seed(other_user, quiz, number)
    )


@settings(max_examples=150, deadline=None)
@given(authors=st.lists(uuids, min_size=4, max_size=80, unique=True), salt=st.text(max_size=12))
def test_every_submission_gets_three_reviewers_no_self_and_balanced_load(authors: list[uuid.UUID], salt: str) -> None:
    assignment = assign_reviewers(salt, authors)
    assert set(assignment) == set(authors)
    for author, reviewers in assignment.items():
        assert len(reviewers) == 3
        assert len(set(reviewers)) == 3
        assert author not in reviewers
    loads = Counter(r for reviewers in assignment.values() for r in reviewers)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert set(loads) <= set(authors)
    # deterministic and independent of input order
    assert assign_reviewers(salt, list(reversed(authors))) == assignment


def test_too_few_submissions_for_peer_review() -> None:
    authors = [uuid.uuid4() for _ in range(3)]
    with pytest.raises(ValueError, match="at least 4"):
        assign_reviewers("s", authors)


@settings(max_examples=100, deadline=None)
@given(people=st.lists(uuids, min_size=5, max_size=30, unique=True), data=st.data())
def test_replacement_is_least_loaded_and_never_author_or_current_reviewer(
    people: list[uuid.UUID], data: st.DataObject
) -> None:
    author = people[0]
    excluded = set(data.draw(st.lists(st.sampled_from(people[1:]), max_size=len(people) - 2, unique=True)))
    loads = {p: data.draw(st.integers(min_value=0, max_value=5)) for p in people}
    chosen = pick_replacement("s", people, author, excluded, loads)
    assert chosen is not None
    assert chosen != author
    assert chosen not in excluded
    eligible = [p for p in people if p != author and p not in excluded]
    assert loads[chosen] == min(loads[p] for p in eligible)


@settings(max_examples=100, deadline=None)
@given(authors=st.lists(uuids, min_size=5, max_size=12, unique=True), salt=st.text(max_size=8), data=st.data())
def test_replacing_a_reviewer_who_missed_everything_keeps_loads_balanced(
    authors: list[uuid.UUID], salt: str, data: st.DataObject
) -> None:
    plan = assign_reviewers(salt, authors)
    reviews = [(author, reviewer) for author, reviewers in plan.items() for reviewer in reviewers]
    slacker = data.draw(st.sampled_from(authors))
    live = [pair for pair in reviews if pair[1] != slacker]
    needs = [(a, a, {r for a2, r in reviews if a2 == a}) for a, r in reviews if r == slacker]
    others = [a for a in authors if a != slacker]
    chosen = plan_replacements(salt, others, needs, Counter(r for _, r in live))
    assert None not in chosen
    live += [(need[0], reviewer) for need, reviewer in zip(needs, chosen, strict=True)]
    assert all(author != reviewer for author, reviewer in live)
    assert len(set(live)) == len(live)
    assert Counter(a for a, _ in live) == Counter(dict.fromkeys(authors, 3))
    loads = Counter(r for _, r in live)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert plan_replacements(salt, others, needs, Counter(r for _, r in reviews if r != slacker)) == chosen
