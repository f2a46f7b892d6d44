"""Peer review: three anonymous reviewers per submission, median grade, override, reassignment."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from lms.assessments.models import PeerReview
from lms.db.binding import tenant_session
from lms.db.engines import Database
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.assessments.assignments.test_assignments import ALL_TOP, build_assignment, student_of
from tests.integration.catalog.helpers import Client

LEVELS = {  # total points per reviewer choice
    2: [{"criterion_id": "analysis", "level_id": "weak"}, {"criterion_id": "writing", "level_id": "poor"}],
    6: [{"criterion_id": "analysis", "level_id": "strong"}, {"criterion_id": "writing", "level_id": "poor"}],
    10: ALL_TOP,
}


async def test_peer_review_round_from_assignment_to_median_grade(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    course, assignment_id, author = await build_assignment(
        client, make_user, login, tenant, peer_review={"reviewers": 3, "review_hours": 48}, pass_pct=50
    )
    learners = [await student_of(client, make_user, login, tenant, course) for _ in range(5)]
    submissions: dict[uuid.UUID, str] = {}
    for index, (user, headers) in enumerate(learners):
        created = await client.post(
            f"{course.base}/api/v1/assignments/{assignment_id}/submissions",
            data={"text": f"Essay number {index}"},
            headers=headers,
        )
        submissions[user.id] = created.json()["id"]
    assign_url = f"{course.base}/api/v1/assignments/{assignment_id}/peer-reviews/assign"
    assert (await client.post(assign_url, headers=learners[0][1])).status_code == 403
    assigned = await client.post(assign_url, headers=author)
    assert assigned.json() == {"reviews": 15, "submissions": 5}
    assert (await client.post(assign_url, headers=author)).status_code == 409

    per_submission: Counter[str] = Counter()
    own_by_reviewer: dict[uuid.UUID, list[dict[str, object]]] = {}
    for user, headers in learners:
        mine = (await client.get(f"{course.base}/api/v1/peer-reviews", headers=headers)).json()["items"]
        assert len(mine) == 3
        for review in mine:
            assert review["submission_id"] != submissions[user.id]
            assert review["submission_id"] != submissions[user.id]
            # nothing in what a reviewer sees names the author
            author_id = next(u.id for u, _ in learners if submissions[u.id] == review["submission_id"])
            assert str(author_id) not in str(review)
            per_submission[review["submission_id"]] += 1
        own_by_reviewer[user.id] = mine
    assert set(per_submission.values()) == {3}

    # everyone reviews; the first learner's submission gets totals 2, 6 and 10 -> median 6
    target = submissions[learners[0][0].id]
    scores_for_target = iter([2, 6, 10])
    for user, headers in learners:
        for review in own_by_reviewer[user.id]:
            total = next(scores_for_target) if review["submission_id"] == target else 10
            done = await client.post(
                f"{course.base}/api/v1/peer-reviews/{review['id']}",
                json={"scores": LEVELS[total], "comment": f"from {user.id}"},
                headers=headers,
            )
            assert done.status_code == 200, done.text
            assert done.json()["total"] == total
    again = own_by_reviewer[learners[1][0].id][0]
    resubmitted = await client.post(
        f"{course.base}/api/v1/peer-reviews/{again['id']}", json={"scores": ALL_TOP}, headers=learners[1][1]
    )
    assert resubmitted.status_code == 409

    author_view = (
        await client.get(f"{course.base}/api/v1/assignment-submissions/{target}", headers=learners[0][1])
    ).json()
    assert author_view["status"] == "graded"
    assert author_view["peer_score"] == 6
    assert author_view["score"] == 6
    assert sorted(r["reviewer"] for r in author_view["reviews"]) == ["Reviewer 1", "Reviewer 2", "Reviewer 3"]
    reviewer_ids = {str(u.id) for u, _ in learners}
    assert not any(rid in author_view["reviews"][0]["reviewer"] for rid in reviewer_ids)

    # the instructor overrides the peer grade
    override = await client.post(
        f"{course.base}/api/v1/assignment-submissions/{target}/grade", json={"scores": LEVELS[2]}, headers=author
    )
    assert override.json()["score"] == 2
    assert override.json()["instructor_override"] is True
    assert override.json()["peer_score"] == 6
    assert override.json()["passed"] is False


async def test_missed_reviews_are_reassigned_to_someone_else(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    course, assignment_id, author = await build_assignment(client, make_user, login, tenant, peer_review={})
    learners = [await student_of(client, make_user, login, tenant, course) for _ in range(6)]
    for _, headers in learners:
        await client.post(
            f"{course.base}/api/v1/assignments/{assignment_id}/submissions", data={"text": "work"}, headers=headers
        )
    await client.post(f"{course.base}/api/v1/assignments/{assignment_id}/peer-reviews/assign", headers=author)
    slacker, slacker_headers = learners[2]
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(
            update(PeerReview)
            .where(PeerReview.reviewer_id == slacker.id)
            .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    mine = (await client.get(f"{course.base}/api/v1/peer-reviews", headers=slacker_headers)).json()["items"]
    too_late = await client.post(
        f"{course.base}/api/v1/peer-reviews/{mine[0]['id']}", json={"scores": ALL_TOP}, headers=slacker_headers
    )
    assert too_late.status_code == 409
    assert "deadline" in too_late.json()["error"]["message"]
    reassign_url = f"{course.base}/api/v1/assignments/{assignment_id}/peer-reviews/reassign"
    result = (await client.post(reassign_url, headers=author)).json()
    assert result == {"missed": 3, "reassigned": 3, "unfilled": 0}
    assert (await client.post(reassign_url, headers=author)).json() == {"missed": 0, "reassigned": 0, "unfilled": 0}
    async with tenant_session(db.app_sessions, tenant.id) as session:
        reviews = list(await session.scalars(select(PeerReview)))
    live = [r for r in reviews if r.status != "missed"]
    per_submission = Counter(r.submission_id for r in live)
    assert set(per_submission.values()) == {3}
    assert slacker.id not in {r.reviewer_id for r in live}
    pairs = Counter((r.submission_id, r.reviewer_id) for r in live)
    assert max(pairs.values()) == 1
    loads = Counter(r.reviewer_id for r in live)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert (await client.get(f"{course.base}/api/v1/peer-reviews", headers=slacker_headers)).json()["items"] == []


async def test_peer_review_needs_enough_submissions(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    course, assignment_id, author = await build_assignment(client, make_user, login, tenant, peer_review={})
    for _ in range(3):
        _, headers = await student_of(client, make_user, login, tenant, course)
        await client.post(
            f"{course.base}/api/v1/assignments/{assignment_id}/submissions", data={"text": "w"}, headers=headers
        )
    refused = await client.post(f"{course.base}/api/v1/assignments/{assignment_id}/peer-reviews/assign", headers=author)
    assert refused.status_code == 409
    assert "at least 4 submissions" in refused.json()["error"]["message"]
