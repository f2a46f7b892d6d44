"""An attempt's items decoded once per process: its parsed questions (with their keys) and public views.

The items an attempt shows are fixed when it is drawn and never change, so what every autosave,
submit and read derives from them (a parsed question per item, its public view) is kept
here by (tenant, attempt id) instead of being decoded from JSON and parsed again per request. A
process that has an attempt's snapshot reads the attempt's row without its items. The snapshot is
only ever used after the attempt's row was read under the request's tenant (RLS), never instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from lms.assessments.quizzes.schemas import AttemptQuestion
from lms.assessments.quizzes.services.graders import Question, answer_key, parse_question, public_view

# Attempts kept per process, the least recently used dropped first: an exam burst of a thousand learners per
# process fits, in some 20-50 MB (a snapshot of 20 questions takes about 20 KB, more with long texts).
MAX_SNAPSHOTS = 1024


@dataclass(frozen=True, slots=True)
class ShownItem:
    question_id: str
    points: float
    question: Question
    # What the learner sees (shared by every response that shows the attempt: never mutated).
    view: AttemptQuestion

    @property
    def kind(self) -> str:
        return str(self.question.__struct_config__.tag)


@dataclass(frozen=True, slots=True)
class Snapshot:
    items: tuple[ShownItem, ...]
    by_id: Mapping[str, ShownItem]
    max_score: float

    def answer_keys(self) -> dict[str, Any]:
        return {item.question_id: answer_key(item.question) for item in self.items}


def snapshot(items: Sequence[tuple[Mapping[str, Any], Question | None]]) -> Snapshot:
    """From stored items (`{"question_id", "points", "payload", "order"}`), each with its parsed question
    when the caller has it already (the draw), else parsed here."""
    shown = []
    for index, (item, parsed) in enumerate(items):
        question = parsed if parsed is not None else parse_question(item["payload"])
        points = float(item["points"])
        view = AttemptQuestion(
            question_id=item["question_id"],
            position=index + 1,
            points=points,
            question=public_view(question, list(item["order"])),
        )
        shown.append(ShownItem(item["question_id"], points, question, view))
    return Snapshot(
        tuple(shown), {i.question_id: i for i in shown}, round(sum(float(i["points"]) for i, _ in items), 4)
    )


_SNAPSHOTS: OrderedDict[tuple[UUID, UUID], Snapshot] = OrderedDict()


def recall(tenant_id: UUID, attempt_id: UUID) -> Snapshot | None:
    found = _SNAPSHOTS.get((tenant_id, attempt_id))
    if found is not None:
        _SNAPSHOTS.move_to_end((tenant_id, attempt_id))
    return found


def remember(tenant_id: UUID, attempt_id: UUID, shown: Snapshot) -> None:
    _SNAPSHOTS[(tenant_id, attempt_id)] = shown
    _SNAPSHOTS.move_to_end((tenant_id, attempt_id))
    while len(_SNAPSHOTS) > MAX_SNAPSHOTS:
        _SNAPSHOTS.popitem(last=False)


def forget_all() -> None:
    """Drop every snapshot (what a process that never saw the attempts has)."""
    _SNAPSHOTS.clear()
