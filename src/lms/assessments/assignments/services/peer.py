"""Deterministic, balanced peer-review assignment.

Authors are ordered by a hash of (assignment, author), and author i reviews the submissions of the
next k authors in that circle. Every submission gets exactly k reviewers, nobody reviews their own
work, and every reviewer gets exactly k reviews; the same inputs always give the same assignment.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from uuid import UUID


def _rank(salt: str, user_id: UUID) -> str:
    return hashlib.sha256(f"{salt}:{user_id}".encode()).hexdigest()


def assign_reviewers(salt: str, authors: Iterable[UUID], per_submission: int = 3) -> dict[UUID, list[UUID]]:
    """author -> the reviewers of their submission. Needs more authors than `per_submission`."""
    circle = sorted(set(authors), key=lambda u: (_rank(salt, u), str(u)))
    if len(circle) <= per_submission:
        raise ValueError(f"peer review needs at least {per_submission + 1} submissions, there are {len(circle)}")
    n = len(circle)
    return {circle[i]: [circle[(i - k) % n] for k in range(1, per_submission + 1)] for i in range(n)}


def pick_replacement(
    salt: str,
    candidates: Iterable[UUID],
    author: UUID,
    excluded: set[UUID],
    loads: Mapping[UUID, int],
) -> UUID | None:
    """The least-loaded candidate who is neither the author nor already on (or dropped from) it."""
    eligible = [c for c in candidates if c != author and c not in excluded]
    if not eligible:
        return None
    return min(eligible, key=lambda u: (loads.get(u, 0), _rank(salt, u), str(u)))


# Above this many combinations, replacements are chosen greedily one at a time.
MAX_PLANS = 20_000


def plan_replacements(
    salt: str,
    candidates: Iterable[UUID],
    needs: list[tuple[UUID, UUID, set[UUID]]],
    loads: Mapping[UUID, int],
) -> list[UUID | None]:
    """A reviewer for each need (submission, author, excluded), keeping loads as even as possible.

    Small rounds (the usual case: one reviewer's few missed reviews) are solved exactly by trying
    every combination; deterministic ties are broken by the same hash ranking as the assignment.
    """
    pool = sorted(set(candidates), key=lambda u: (_rank(salt, u), str(u)))
    options = [[c for c in pool if c != author and c not in excluded] for _, author, excluded in needs]
    combinations = 1
    for choice in options:
        combinations *= max(1, len(choice))
    if combinations > MAX_PLANS or any(not choice for choice in options):
        return _greedy(salt, pool, needs, loads)
    best: tuple[tuple[int, int], tuple[UUID, ...]] | None = None
    for plan in itertools.product(*options):
        pairs = list(zip((n[0] for n in needs), plan, strict=True))
        if len(set(pairs)) != len(pairs):
            continue  # one person twice on the same submission
        after = Counter(dict(loads))
        after.update(plan)
        counted = [after[c] for c in pool]
        cost = (max(counted) - min(counted), sum(v * v for v in counted))
        if best is None or cost < best[0]:
            best = (cost, plan)
    return list(best[1]) if best is not None else _greedy(salt, pool, needs, loads)


def _greedy(
    salt: str, pool: list[UUID], needs: list[tuple[UUID, UUID, set[UUID]]], loads: Mapping[UUID, int]
) -> list[UUID | None]:
    current = Counter(dict(loads))
    taken: set[tuple[UUID, UUID]] = set()
    out: list[UUID | None] = []
    for submission, author, excluded in needs:
        blocked = excluded | {c for s, c in taken if s == submission}
        chosen = pick_replacement(salt, pool, author, blocked, current)
        if chosen is not None:
            current[chosen] += 1
            taken.add((submission, chosen))
        out.append(chosen)
    return out
