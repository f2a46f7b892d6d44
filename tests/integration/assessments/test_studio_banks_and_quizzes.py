"""The assessment studio in the browser's terms: a question bank with all seven types written in the
plain form (field errors by type), shown as learners see them, exported and imported again (all or
nothing), and a quiz set up from the bank; other instructors and tenants are kept out."""

from __future__ import annotations

import json
import re

from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.catalog.test_studio_pages import create_course, headers_of, lesson_ids, module_ids, post
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF

Client = AsyncTestClient[Litestar]

SEVEN = [
    {"type": "single_choice", "prompt": "Which exit?", "choices": "North\n* South\nEast"},
    {"type": "multiple_choice", "prompt": "Which are alarms?", "choices": "* Bell\n* Siren\nLamp", "partial": "on"},
    {"type": "true_false", "prompt": "Lifts are safe in a fire.", "truth": "false"},
    {"type": "short_answer", "prompt": "Say the word.", "accepted": "Evacuate\nLeave", "match": "exact"},
    {"type": "numeric", "prompt": "Metres to the door?", "answer": "12,5", "tolerance": "0.5"},
    {"type": "ordering", "prompt": "Order the steps.", "items": "Alarm\nLeave\nMeet"},
    {"type": "matching", "prompt": "Match the colour.", "pairs": "Water = Red\nFoam = Cream\nCO2 = Black"},
]


async def add(client: Client, url: str, headers: dict[str, str], fields: dict[str, str]) -> Response:
    return await post(client, url, headers, topic="fire", difficulty="easy", points="2", **fields)


async def test_instructor_writes_every_question_type_exports_imports_and_sets_up_a_quiz(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    instructor = await make_user(tenant, roles=["instructor"])
    headers = await headers_of(login, instructor)
    site = secure_host(tenant)
    course_id = await create_course(client, site, headers)
    base = f"{site}/teach/courses/{course_id}"

    empty = await client.get(f"{base}/banks", headers=headers)
    assert "No question banks yet" in empty.text
    created = await post(client, f"{base}/banks", headers, title="Fire drill")
    assert created.status_code == 303
    bank_url = f"{site}{created.headers['location'].split('?')[0]}"

    unmarked = {"type": "single_choice", "prompt": "?", "choices": "A\nB"}
    wrong = await add(client, f"{bank_url}/questions", headers, unmarked)
    assert wrong.status_code == 422
    assert "Mark the right option with *" in wrong.text
    assert 'value="?"' in wrong.text or ">?</textarea>" in wrong.text  # the form keeps what was typed
    for fields in SEVEN:
        added = await add(client, f"{bank_url}/questions", headers, fields)
        assert added.status_code == 303, (fields["type"], added.text[-2000:])
    bank = await client.get(bank_url, headers=headers)
    assert "7 questions" in bank.text
    for fields in SEVEN:
        assert fields["prompt"] in bank.text
    assert "Foam → Cream" in bank.text

    exported = await client.get(f"{bank_url}/export.json", headers=headers)
    assert exported.status_code == 200
    document = exported.json()
    assert document["format"] == "lms-question-bank/1"
    assert [q["payload"]["type"] for q in document["questions"]] == [f["type"] for f in SEVEN]
    assert document["questions"][4]["payload"]["answer"] == 12.5

    # A second bank imports the file; a file with one broken question imports nothing.
    other = await post(client, f"{base}/banks", headers, title="Copy")
    copy_url = f"{site}{other.headers['location'].split('?')[0]}"
    broken = json.loads(exported.text)
    broken["questions"][0]["payload"]["correct"] = "no-such-option"
    refused = await client.post(
        f"{copy_url}/import",
        data={"csrf_token": CSRF},
        files={"file": ("bank.json", json.dumps(broken).encode(), "application/json")},
        headers=headers,
    )
    assert refused.status_code == 422
    assert "question 1" in refused.text
    assert "This bank has no questions yet" in refused.text
    imported = await client.post(
        f"{copy_url}/import",
        data={"csrf_token": CSRF},
        files={"file": ("bank.json", exported.content, "application/json")},
        headers=headers,
        follow_redirects=False,
    )
    assert imported.status_code == 303
    assert "7 questions" in (await client.get(copy_url, headers=headers)).text

    # A quiz lesson set up from the bank.
    await post(client, f"{base}/modules", headers, module_title="Check")
    module = module_ids((await client.get(base, headers=headers)).text)[0]
    quiz_lesson = {f"lesson-title-{module}": "Fire check", f"lesson-type-{module}": "quiz"}
    await post(client, f"{base}/modules/{module}/lessons", headers, **quiz_lesson)
    lesson = lesson_ids((await client.get(base, headers=headers)).text)[0]
    quiz_url = f"{base}/lessons/{lesson}/quiz"
    form = await client.get(quiz_url, headers=headers)
    assert "Set up the quiz" in form.text
    bank_id = re.search(r"/banks/([0-9a-f-]{36})", bank_url)
    assert bank_id
    too_many = await post(client, quiz_url, headers, title="Fire check", **{"bank-0": bank_id.group(1), "count-0": "9"})
    assert too_many.status_code == 422
    assert "only 7 match" in too_many.text
    fields = {"bank-0": bank_id.group(1), "count-0": "5", "minutes": "10", "attempts": "3", "cooldown": "5"}
    rules = {"title": "Fire check", "pass_pct": "80", "review_policy": "after_passing"}
    made = await post(client, quiz_url, headers, **rules, **fields)
    assert made.status_code == 303, made.text
    shown = await client.get(quiz_url, headers=headers)
    assert "5 from “Fire drill”" in shown.text
    assert "No one has finished this quiz yet" in shown.text

    # The rules change later from the same page: the form starts from them; a bad change names its field.
    assert "Save the quiz" in shown.text
    assert 'value="80"' in shown.text
    over = await post(client, quiz_url, headers, **{**rules, **fields, "count-0": "8"})
    assert over.status_code == 422
    assert "only 7 match" in over.text
    changed = await post(client, quiz_url, headers, **{**rules, **fields, "count-0": "6", "pass_pct": "90"})
    assert changed.status_code == 303
    assert "notice=quiz-saved" in changed.headers["location"]
    after = await client.get(quiz_url, headers=headers)
    assert "6 from “Fire drill”" in after.text
    assert 'value="90"' in after.text

    # Another instructor of the tenant, and another tenant's admin, are kept out.
    colleague = await headers_of(login, await make_user(tenant, roles=["instructor"]))
    assert (await client.get(bank_url, headers=colleague)).status_code == 403
    assert (await client.get(f"{bank_url}/export.json", headers=colleague)).status_code == 403
    other_tenant = await make_tenant()
    stranger = await headers_of(login, await make_user(other_tenant, roles=["tenant_admin"]))
    foreign = bank_url.replace(secure_host(tenant), secure_host(other_tenant))
    assert (await client.get(foreign, headers=stranger)).status_code == 404


async def test_instructor_edits_and_retires_a_question_and_attempts_keep_their_copy(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    instructor = await make_user(tenant, roles=["instructor"])
    headers = await headers_of(login, instructor)
    api = await login(instructor)
    site = secure_host(tenant)
    course_id = await create_course(client, site, headers)
    created = await post(client, f"{site}/teach/courses/{course_id}/banks", headers, title="Fire drill")
    bank_url = f"{site}{created.headers['location'].split('?')[0]}"
    bank_id = bank_url.rsplit("/", 1)[1]
    assert (await add(client, f"{bank_url}/questions", headers, SEVEN[0])).status_code == 303
    question = (await client.get(f"{site}/api/v1/question-banks/{bank_id}/questions", headers=api)).json()["items"][0]
    edit_url = f"{bank_url}/questions/{question['id']}"

    # The edit page starts from the question as it is, answer key included.
    form = await client.get(edit_url, headers=headers)
    assert form.status_code == 200
    assert form.headers["content-type"].startswith("text/html")
    assert "North\nSouth" not in form.text
    assert "* South" in form.text

    # A broken change is refused with the field named; the question is unchanged.
    one_option = {"type": "single_choice", "prompt": "Which exit?", "choices": "North"}
    broken = await add(client, edit_url, headers, one_option)
    assert broken.status_code == 422
    assert "Enter at least two options" in broken.text
    saved = await add(client, edit_url, headers, {**SEVEN[0], "choices": "* North\nSouth\nWest"})
    assert saved.status_code == 303
    assert saved.headers["location"].endswith(f"#question-{question['id']}")
    stored = (await client.get(f"{site}/api/v1/question-banks/{bank_id}/questions", headers=api)).json()["items"][0]
    assert [o["text"] for o in stored["payload"]["options"]] == ["North", "South", "West"]
    assert stored["payload"]["correct"] == "o1"
    assert stored["points"] == 2.0

    # Retired: marked on the bank page, and the JSON API says so; then back in use.
    retired = await post(client, f"{edit_url}/state", headers, active="false")
    assert retired.status_code == 303
    bank = await client.get(bank_url, headers=headers)
    assert "Retired" in bank.text
    listed = (await client.get(f"{site}/api/v1/question-banks/{bank_id}/questions", headers=api)).json()
    assert listed["items"][0]["active"] is False
    back = await client.patch(
        f"{site}/api/v1/question-banks/{bank_id}/questions/{question['id']}", json={"active": True}, headers=api
    )
    assert back.status_code == 200
    assert back.json()["active"] is True

    # The JSON API edits the same way, and refuses a payload that does not check out.
    bad = await client.put(
        f"{site}/api/v1/question-banks/{bank_id}/questions/{question['id']}",
        json={"payload": {"type": "true_false", "prompt": "?"}},
        headers=api,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"].startswith("payload")
    good = await client.put(
        f"{site}/api/v1/question-banks/{bank_id}/questions/{question['id']}",
        json={"payload": {"type": "true_false", "prompt": "Lifts are safe.", "correct": False}, "points": 3},
        headers=api,
    )
    assert good.status_code == 200
    assert good.json()["type"] == "true_false"

    # Another tenant's instructor, and a learner of this one, cannot reach it.
    other = await make_tenant()
    stranger = await login(await make_user(other, roles=["instructor"]))
    url = f"{secure_host(other)}/api/v1/question-banks/{bank_id}/questions/{question['id']}"
    assert (await client.patch(url, json={"active": False}, headers=stranger)).status_code == 404
    learner = await login(await make_user(tenant))
    own = f"{site}/api/v1/question-banks/{bank_id}/questions/{question['id']}"
    assert (await client.patch(own, json={"active": False}, headers=learner)).status_code == 403
    assert (await client.get(edit_url, headers=await headers_of(login, await make_user(tenant)))).status_code == 403
