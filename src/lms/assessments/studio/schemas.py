"""The question form of the bank editor, as plain text fields, turned into the API's typed payloads
(and back, to fill the form again). One field set serves all seven question types:

- choices (single and multiple choice): one option a line, `*` before each right one;
- true/false: the `truth` radio; short answer: accepted answers one a line and how they match;
- numeric: answer and tolerance; ordering: items one a line in the right order;
- matching: `prompt = match` a line.

The JSON export/import format is the API's: `{"format": "lms-question-bank/1", "questions": [QuestionIn]}`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lms.assessments.quizzes.schemas import QuestionIn, QuestionOut
from lms.web.i18n import gettext as _

EXPORT_FORMAT = "lms-question-bank/1"
QUESTION_TYPES = ("single_choice", "multiple_choice", "true_false", "short_answer", "numeric", "ordering", "matching")


class BankExport(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    questions: list[QuestionIn]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def payload_from_fields(fields: dict[str, str], errors: dict[str, str]) -> dict[str, Any] | None:
    """The typed payload of the form's question; a missing piece is an error on its field."""
    kind = fields.get("type", "")
    prompt = fields.get("prompt", "").strip()
    if kind not in QUESTION_TYPES:
        errors["type"] = _("Choose the type of question.")
        return None
    if not prompt:
        errors["prompt"] = _("Enter the question.")
    payload: dict[str, Any] = {"type": kind, "prompt": prompt}
    if kind in ("single_choice", "multiple_choice"):
        options, correct = [], []
        for index, line in enumerate(_lines(fields.get("choices", "")), start=1):
            right = line.startswith("*")
            options.append({"id": f"o{index}", "text": line.lstrip("*").strip()})
            if right:
                correct.append(f"o{index}")
        if len(options) < 2:
            errors["choices"] = _("Enter at least two options, one a line.")
        elif not correct or (kind == "single_choice" and len(correct) != 1):
            errors["choices"] = (
                _("Mark the right option with * at the start of its line.")
                if kind == "single_choice"
                else _("Mark each right option with * at the start of its line.")
            )
        payload["options"] = options
        payload["correct"] = correct[0] if kind == "single_choice" and correct else correct
        if kind == "multiple_choice" and fields.get("partial") == "on":
            payload["scoring"] = "partial"
    elif kind == "true_false":
        if fields.get("truth") not in ("true", "false"):
            errors["truth"] = _("Choose whether the statement is true or false.")
        payload["correct"] = fields.get("truth") == "true"
    elif kind == "short_answer":
        accepted = _lines(fields.get("accepted", ""))
        if not accepted:
            errors["accepted"] = _("Enter at least one accepted answer.")
        payload["accepted"] = accepted
        payload["match"] = fields.get("match") if fields.get("match") in ("exact", "keywords", "pattern") else "exact"
    elif kind == "numeric":
        try:
            payload["answer"] = float(fields.get("answer", "").replace(",", "."))
        except ValueError:
            errors["answer"] = _("Enter the right answer as a number, for example 12.5.")
        try:
            payload["tolerance"] = float((fields.get("tolerance") or "0").replace(",", "."))
        except ValueError:
            errors["tolerance"] = _("Enter the tolerance as a number, for example 0.5.")
    elif kind == "ordering":
        items = _lines(fields.get("items", ""))
        if len(items) < 2:
            errors["items"] = _("Enter at least two items, one a line, in the right order.")
        payload["items"] = [{"id": f"i{index}", "text": text} for index, text in enumerate(items, start=1)]
    else:
        prompts: list[dict[str, str]] = []
        choices: dict[str, str] = {}
        for index, line in enumerate(_lines(fields.get("pairs", "")), start=1):
            left, divider, matched = line.partition("=")
            if not divider or not left.strip() or not matched.strip():
                errors["pairs"] = _("Write each pair as: prompt = match.")
                break
            choice_id = choices.setdefault(matched.strip(), f"c{len(choices) + 1}")
            prompts.append({"id": f"p{index}", "text": left.strip(), "match": choice_id})
        if len(prompts) < 2 and "pairs" not in errors:
            errors["pairs"] = _("Enter at least two pairs, one a line.")
        payload["prompts"] = prompts
        payload["choices"] = [{"id": choice_id, "text": text} for text, choice_id in choices.items()]
    return None if errors else payload


def fields_from_question(question: QuestionOut) -> dict[str, str]:
    """The form fields of a stored question (to edit a copy, or show its answer key in the list)."""
    payload = question.payload
    fields = {"type": question.type, "prompt": str(payload.get("prompt", "")), "topic": question.topic}
    if question.type in ("single_choice", "multiple_choice"):
        correct = payload.get("correct")
        right = set(correct) if isinstance(correct, list) else {correct}
        fields["choices"] = "\n".join(("* " if o["id"] in right else "") + o["text"] for o in payload["options"])
    elif question.type == "true_false":
        fields["truth"] = "true" if payload.get("correct") else "false"
    elif question.type == "short_answer":
        fields["accepted"] = "\n".join(payload.get("accepted", []))
        fields["match"] = str(payload.get("match", "exact"))
    elif question.type == "numeric":
        fields["answer"] = str(payload.get("answer"))
        fields["tolerance"] = str(payload.get("tolerance", 0))
    elif question.type == "ordering":
        fields["items"] = "\n".join(item["text"] for item in payload.get("items", []))
    elif question.type == "matching":
        choices = {c["id"]: c["text"] for c in payload.get("choices", [])}
        fields["pairs"] = "\n".join(f"{p['text']} = {choices.get(p['match'], '?')}" for p in payload.get("prompts", []))
    return fields


def export_document(questions: list[QuestionOut]) -> bytes:
    document = BankExport(
        format=EXPORT_FORMAT,
        questions=[
            QuestionIn(payload=q.payload, topic=q.topic, difficulty=q.difficulty, points=q.points)  # type: ignore[arg-type]
            for q in questions
        ],
    )
    return msgspec.json.format(msgspec.json.encode(document), indent=2)


def import_document(body: bytes) -> list[QuestionIn]:
    """The questions of an export file; a file of another format or shape is a ValueError naming the problem."""
    try:
        document = msgspec.json.decode(body, type=BankExport)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValueError(str(exc)) from exc
    if document.format != EXPORT_FORMAT:
        raise ValueError(f"the file's format is {document.format!r}, expected {EXPORT_FORMAT!r}")
    if not document.questions or len(document.questions) > 1000:
        raise ValueError("the file must hold between 1 and 1000 questions")
    return document.questions


def rubric_from_text(text: str, errors: dict[str, str]) -> list[dict[str, Any]]:
    """The rubric builder's text: one criterion a line, `Criterion: level = points; level = points`."""
    rubric: list[dict[str, Any]] = []
    for index, line in enumerate(_lines(text), start=1):
        title, colon, levels_text = line.partition(":")
        levels = []
        for number, part in enumerate((p for p in levels_text.split(";") if p.strip()), start=1):
            name, equals, points = part.partition("=")
            try:
                value = float(points.strip().replace(",", "."))
            except ValueError:
                value = -1.0
            if not equals or not name.strip() or not 0 <= value <= 1000:
                errors["rubric"] = _("Line %(line)s: write each level as name = points (0 to 1000).", line=index)
                return []
            levels.append({"id": f"l{number}", "title": name.strip()[:200], "points": value})
        if not colon or not title.strip() or not levels:
            errors["rubric"] = _("Line %(line)s: write Criterion: level = points; level = points.", line=index)
            return []
        rubric.append({"id": f"c{index}", "title": title.strip()[:200], "levels": levels})
    if not rubric:
        errors["rubric"] = _("Enter at least one criterion.")
    return rubric


def rubric_to_text(rubric: list[dict[str, Any]]) -> str:
    lines = []
    for criterion in rubric:
        levels = "; ".join(f"{level['title']} = {level['points']:g}" for level in criterion["levels"])
        lines.append(f"{criterion['title']}: {levels}")
    return "\n".join(lines)
