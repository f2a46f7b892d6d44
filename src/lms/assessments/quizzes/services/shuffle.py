"""Seeded Fisher-Yates: the same (user, quiz, attempt number) always yields the same order.

The seed is derived with SHA-256 from the key, so orders are reproducible for review and audit
but not predictable from one attempt to the next.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

T = TypeVar("T")


def attempt_seed(user_id: UUID, quiz_id: UUID, attempt_number: int) -> int:
    digest = hashlib.sha256(f"{user_id}:{quiz_id}:{attempt_number}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def sub_seed(seed: int, label: str) -> int:
    """An independent seed for one part of the attempt (a pool draw, one question's options)."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def fisher_yates(items: Sequence[T], seed: int) -> list[T]:
    """A shuffled copy of `items` (Durstenfeld's in-place variant on a copy)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible ordering, not a secret
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = rng.randint(0, i)
        out[i], out[j] = out[j], out[i]
    return out
