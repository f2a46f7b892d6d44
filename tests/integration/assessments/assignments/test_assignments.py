"""Assignments: rubric shown up front, versioned submissions with files, late policy, grading workflow."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lms.assessments.models import AssessmentOutboxEntry
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.assessments.helpers import enrol
from tests.integration.catalog.helpers import BuiltCourse, Client, build_course, instructor, learner

RUBRIC = [
    {
        "id": "analysis",
        "title": "Analysis",
        "levels": [{"id": "weak", "title": "Weak", "points": 2}, {"id": "strong", "title": "Strong", "points": 6}],
    },
    {
        "id": "writing",
        "title": "Writing",
        "levels": [{"id": "poor", "title": "Poor", "points": 0}, {"id": "clear", "title": "Clear", "points": 4}],
    },
]
ALL_TOP = [
    {"criterion_id": "analysis", "level_id": "strong", "comment": "Sharp"},
    {"criterion_id": "writing", "level_id": "clear"},
]


async def build_assignment(
    client: Client, make_user: MakeUser, login: Login, tenant: Tenant, **fields: Any
) -> tuple[BuiltCourse, str, dict[str, str]]:
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, lessons=[{"title": "Report", "type": "assignment"}])
    body = {"lesson_id": course.lessons["Report"], "title": "Phishing report", "rubric": RUBRIC, **fields}
    created = await client.post(f"{course.base}/api/v1/assignments", json=body, headers=author)
    assert created.status_code == 201, created.text
    return course, created.json()["id"], author


async def student_of(
    client: Client, make_user: MakeUser, login: Login, tenant: Tenant, course: BuiltCourse
) -> tuple[Any, dict[str, str]]:
    user, headers = await learner(make_user, login, tenant)
    await enrol(client, course.base, course.id, headers)
    return user, headers


async def test_submission_is_graded_against_the_rubric_returned_and_resubmitted(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    course, assignment_id, author = await build_assignment(client, make_user, login, tenant, pass_pct=50)
    user, student = await student_of(client, make_user, login, tenant, course)
    base = course.base

    shown = (await client.get(f"{base}/api/v1/assignments/{assignment_id}", headers=student)).json()
    assert shown["rubric"][0]["levels"][1] == {"id": "strong", "title": "Strong", "points": 6, "description": ""}
    assert shown["max_points"] == 10

    first = await client.post(
        f"{base}/api/v1/assignments/{assignment_id}/submissions",
        data={"text": "My findings", "url": "https://example.org/report"},
        files=[("files", ("report.pdf", b"%PDF-1.4 report", "application/pdf"))],
        headers=student,
    )
    assert first.status_code == 201, first.text
    submission = first.json()
    assert submission["status"] == "submitted"
    assert submission["versions"][0]["files"][0]["filename"] == "report.pdf"
    stored = settings.storage_url or ""
    # Files are stored under the assignment and a staging id, before the submission's transaction.
    key = _stored_key(stored, f"t/{tenant.id}/assignments/{assignment_id}/*/report.pdf")
    assert (await _read(stored, key)) == b"%PDF-1.4 report"
    sub_url = f"{base}/api/v1/assignment-submissions/{submission['id']}"
    download = await client.get(f"{sub_url}/versions/1/files/report.pdf", headers=student)
    assert download.content == b"%PDF-1.4 report"

    # grading needs the review first
    assert (await client.post(f"{sub_url}/grade", json={"scores": ALL_TOP}, headers=author)).status_code == 409
    assert (await client.post(f"{sub_url}/review", headers=author)).json()["status"] == "in_review"
    blocked = await client.post(
        f"{base}/api/v1/assignments/{assignment_id}/submissions", data={"text": "v2"}, headers=student
    )
    assert blocked.status_code == 409
    bad_level = await client.post(
        f"{sub_url}/grade",
        json={"scores": [{"criterion_id": "analysis", "level_id": "superb"}, ALL_TOP[1]]},
        headers=author,
    )
    assert bad_level.status_code == 422
    assert bad_level.json()["error"]["field"] == "scores[0].level_id"
    missing = await client.post(f"{sub_url}/grade", json={"scores": ALL_TOP[:1]}, headers=author)
    assert missing.status_code == 422
    assert "'writing' is not scored" in missing.json()["error"]["message"]
    in_review = (await client.get(sub_url, headers=student)).json()
    assert in_review["score"] is None

    graded = await client.post(f"{sub_url}/grade", json={"scores": ALL_TOP, "feedback": "Well done"}, headers=author)
    assert graded.status_code == 200, graded.text
    assert graded.json()["score"] == 10
    assert graded.json()["passed"] is True
    learner_view = (await client.get(sub_url, headers=student)).json()
    assert learner_view["rubric_scores"][0]["comment"] == "Sharp"
    assert learner_view["feedback"] == "Well done"

    # Once graded, the rubric is fixed; the other rules still change (PUT), for staff only.
    assignment_url = f"{base}/api/v1/assignments/{assignment_id}"
    rules = {"title": "Phishing report", "rubric": RUBRIC, "pass_pct": 70, "due_at": "2031-01-31T17:00:00Z"}
    new_rubric = {**rules, "rubric": [{**RUBRIC[0], "title": "Depth"}, RUBRIC[1]]}
    locked = await client.put(assignment_url, json=new_rubric, headers=author)
    assert locked.status_code == 409
    assert locked.json()["error"]["field"] == "rubric"
    moved = await client.put(assignment_url, json=rules, headers=author)
    assert moved.status_code == 200, moved.text
    assert moved.json()["pass_pct"] == 70
    assert (await client.put(assignment_url, json=rules, headers=student)).status_code == 403
    duplicate_levels = {**rules, "rubric": [{**RUBRIC[0], "levels": [RUBRIC[0]["levels"][0]] * 2}]}
    assert (await client.put(assignment_url, json=duplicate_levels, headers=author)).status_code == 422

    returned = await client.post(f"{sub_url}/return", headers=author)
    assert returned.json()["status"] == "returned"
    second = await client.post(
        f"{base}/api/v1/assignments/{assignment_id}/submissions", data={"text": "Improved"}, headers=student
    )
    assert second.status_code == 200
    assert second.json()["version"] == 2
    assert [v["number"] for v in second.json()["versions"]] == [1, 2]
    assert second.json()["status"] == "submitted"

    async with tenant_session(db.app_sessions, tenant.id) as session:
        kinds = list(
            await session.scalars(
                select(AssessmentOutboxEntry.kind)
                .where(AssessmentOutboxEntry.user_id == user.id)
                .order_by(AssessmentOutboxEntry.created_at)
            )
        )
    assert kinds == ["submission_received", "in_review", "graded", "returned", "submission_received"]


def _stored_key(storage_url: str, pattern: str) -> str:
    root = Path(storage_url.removeprefix("file://"))
    (path,) = root.glob(pattern)
    return str(path.relative_to(root))


async def _read(storage_url: str, key: str) -> bytes:
    from lms.lib.storage import storage_from_url

    return storage_from_url(storage_url).get_bytes(key)


async def test_bad_uploads_are_rejected_by_name_and_nothing_is_kept(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    course, assignment_id, author = await build_assignment(
        client, make_user, login, tenant, max_file_bytes=1000, allowed_extensions=["pdf", "txt"]
    )
    _, student = await student_of(client, make_user, login, tenant, course)
    url = f"{course.base}/api/v1/assignments/{assignment_id}/submissions"
    cases = [
        ([("files", ("big.pdf", b"x" * 1001, "application/pdf"))], 413, "files[0]", "limit is 1000"),
        ([("files", ("tool.exe", b"MZ....", "application/octet-stream"))], 422, "files[0]", "file type .exe"),
        (
            [("files", ("ok.txt", b"fine", "text/plain")), ("files", ("sneaky.pdf", b"\x7fELF", "application/pdf"))],
            422,
            "files[1]",
            "executable",
        ),
    ]
    for files, status, field, message in cases:
        rejected = await client.post(url, data={"text": "see file"}, files=files, headers=student)
        assert rejected.status_code == status, rejected.text
        assert rejected.json()["error"]["field"] == field
        assert message in rejected.json()["error"]["message"]
    bad_url = await client.post(url, data={"url": "javascript:alert(1)"}, headers=student)
    assert bad_url.status_code == 422
    assert bad_url.json()["error"]["field"] == "url"
    empty = await client.post(url, data={}, headers=student)
    assert empty.status_code == 422
    listed = await client.get(url, headers=author)
    assert listed.json()["total"] == 0


async def test_late_policy_penalises_or_blocks(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    course, penalised, author = await build_assignment(
        client, make_user, login, tenant, due_at=past, late_penalty_pct=25
    )
    _, student = await student_of(client, make_user, login, tenant, course)
    late = await client.post(
        f"{course.base}/api/v1/assignments/{penalised}/submissions", data={"text": "late"}, headers=student
    )
    assert late.json()["late"] is True
    sub_url = f"{course.base}/api/v1/assignment-submissions/{late.json()['id']}"
    await client.post(f"{sub_url}/review", headers=author)
    graded = (await client.post(f"{sub_url}/grade", json={"scores": ALL_TOP}, headers=author)).json()
    assert graded["score"] == 7.5

    course2, blocked, _ = await build_assignment(client, make_user, login, tenant, due_at=past, late_policy="block")
    _, student2 = await student_of(client, make_user, login, tenant, course2)
    refused = await client.post(
        f"{course2.base}/api/v1/assignments/{blocked}/submissions", data={"text": "late"}, headers=student2
    )
    assert refused.status_code == 409
    assert "due date" in refused.json()["error"]["message"]


async def test_assignments_of_another_tenant_are_out_of_reach(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    a, b = await make_tenant(), await make_tenant()
    course_b, assignment_b, _ = await build_assignment(client, make_user, login, b)
    _, student_b = await student_of(client, make_user, login, b, course_b)
    sub_b = (
        await client.post(
            f"{course_b.base}/api/v1/assignments/{assignment_b}/submissions", data={"text": "b"}, headers=student_b
        )
    ).json()
    admin_a = await login(await make_user(a, roles=["tenant_admin"]))
    _, student_a = await learner(make_user, login, a)
    base_a = host(a)
    for headers in (admin_a, student_a):
        assert (await client.get(f"{base_a}/api/v1/assignments/{assignment_b}", headers=headers)).status_code == 404
        post = await client.post(
            f"{base_a}/api/v1/assignments/{assignment_b}/submissions", data={"text": "x"}, headers=headers
        )
        assert post.status_code == 404
        got = await client.get(f"{base_a}/api/v1/assignment-submissions/{sub_b['id']}", headers=headers)
        assert got.status_code == 404
    graded = await client.post(
        f"{base_a}/api/v1/assignment-submissions/{sub_b['id']}/grade", json={"scores": ALL_TOP}, headers=admin_a
    )
    assert graded.status_code == 404
    review = await client.get(f"{base_a}/api/v1/peer-reviews/{uuid.uuid4()}", headers=student_a)
    assert review.status_code == 404
    foreign = await client.get(f"{course_b.base}/api/v1/assignments/{assignment_b}", headers=admin_a)
    assert foreign.status_code == 401


async def test_notifications_are_dispatched_once_as_e_mails(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    from lms.assessments.services import dispatch
    from lms.lib.mail import EmailMessage

    tenant = await make_tenant()
    course, assignment_id, _ = await build_assignment(client, make_user, login, tenant)
    user, student = await student_of(client, make_user, login, tenant, course)
    await client.post(
        f"{course.base}/api/v1/assignments/{assignment_id}/submissions", data={"text": "x"}, headers=student
    )
    async with tenant_session(db.app_sessions, tenant.id) as session:
        entry = (await session.scalars(select(AssessmentOutboxEntry))).one()
        first = await dispatch(session, entry.id)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        second = await dispatch(session, entry.id)
        mails = list(await session.scalars(select(EmailMessage).where(EmailMessage.recipient == user.email)))
    # The session's real worker may have dispatched the entry before this test's first call: either way
    # the entry is dispatched once and a later call finds it done.
    assert first in ("dispatched", "already_dispatched")
    assert second == "already_dispatched"
    assert [m.subject for m in mails] == [f"{tenant.name}: Received: Phishing report"]
