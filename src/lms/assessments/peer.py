"""Deterministic, balanced peer-review assignment.

Authors are ordered by a hash of (assignment, author), and author i reviews the submissions of the
next k authors in that circle. Every submission gets exactly k reviewers, nobody reviews their own
work, and every reviewer gets exactly k reviews; the same inputs always give the same assignment.
"""

from __future__ import annotations

import hashlib
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
