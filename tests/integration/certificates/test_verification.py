"""Anyone can verify a certificate from its id, on the issuing tenant's host only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from lms.certificates.models import Certificate
from lms.db.binding import tenant_session
from lms.db.engines import Database
from tests.conftest import MakeTenant, host
from tests.integration.catalog.helpers import Client
from tests.integration.certificates.conftest import Complete, Issue

JSON = {"Accept": "application/json"}


async def test_a_valid_certificate_verifies_as_json_and_html_without_sign_in(
    client: Client, complete: Complete, issue: Issue
) -> None:
    done = await complete(name="Ada Lovelace", title="Safe handling of customer data")
    cert = await issue(done)

    response = await client.get(f"{done.base}/verify/{cert.id}", headers=JSON)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "valid"
    assert body["signature_valid"] is True
    assert body["learner_name"] == "Ada Lovelace"
    assert body["course"] == "Safe handling of customer data"
    assert body["tenant"] == done.tenant.name
    assert body["issued_at"].startswith(datetime.now(UTC).strftime("%Y-%m-%d"))
    page = await client.get(f"{done.base}/verify/{cert.id}")
    assert page.status_code == 200
    assert 'data-status="valid"' in page.text
    assert "Ada Lovelace" in page.text


async def test_unknown_malformed_and_tampered_ids_are_plainly_not_found(
    client: Client, complete: Complete, issue: Issue
) -> None:
    done = await complete()
    cert = await issue(done)
    tampered = str(cert.id)[:-1] + ("0" if str(cert.id)[-1] != "0" else "1")

    for cert_id in (tampered, str(uuid.uuid4()), "not-a-uuid", "%27%20or%201%3D1"):
        as_json = await client.get(f"{done.base}/verify/{cert_id}", headers=JSON)
        as_html = await client.get(f"{done.base}/verify/{cert_id}", headers={"Accept": "text/html"})
        assert as_json.status_code == 404
        assert as_json.json() == {"error": {"code": "not_found", "message": "not found"}}
        assert as_html.status_code == 404
        assert as_html.headers["content-type"].startswith("text/html")
        assert "Page not found" in as_html.text


async def test_another_tenants_host_does_not_know_the_certificate(
    client: Client, complete: Complete, issue: Issue, make_tenant: MakeTenant
) -> None:
    done = await complete()
    cert = await issue(done)
    other = await make_tenant()

    response = await client.get(f"{host(other)}/verify/{cert.id}", headers=JSON)

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "not found"}}
    for accept in ("text/html", "*/*"):
        answer = await client.get(f"{host(other)}/verify/{cert.id}", headers={"Accept": accept})
        assert answer.status_code == 404
        assert done.tenant.name not in answer.text


async def test_a_certificate_whose_stored_facts_were_altered_fails_its_signature(
    client: Client, db: Database, complete: Complete, issue: Issue
) -> None:
    done = await complete()
    cert = await issue(done)
    async with tenant_session(db.app_sessions, done.tenant.id) as session:
        # Someone with database access backdates the certificate.
        await session.execute(
            update(Certificate).where(Certificate.id == cert.id).values(issued_at=cert.issued_at - timedelta(days=400))
        )

    body = (await client.get(f"{done.base}/verify/{cert.id}", headers=JSON)).json()

    assert body["status"] == "invalid"
    assert body["signature_valid"] is False


async def test_an_expired_certificate_reports_expired(
    client: Client, db: Database, complete: Complete, issue: Issue
) -> None:
    done = await complete(policy={"valid_days": 365, "compliance": True})
    cert = await issue(done)
    assert cert.expires_at == cert.issued_at + timedelta(days=365)
    async with tenant_session(db.app_sessions, done.tenant.id) as session:
        await session.execute(
            update(Certificate)
            .where(Certificate.id == cert.id)
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )

    body = (await client.get(f"{done.base}/verify/{cert.id}", headers=JSON)).json()

    assert body["status"] == "expired"
    assert body["signature_valid"] is True


async def test_verification_is_rate_limited_per_client(
    client: Client, complete: Complete, issue: Issue, settings: object
) -> None:
    done = await complete()
    cert = await issue(done)
    limit = 60
    statuses = [
        (await client.get(f"{done.base}/verify/{uuid.uuid4()}", headers=JSON)).status_code for _ in range(limit)
    ]
    limited = await client.get(f"{done.base}/verify/{cert.id}", headers=JSON)

    assert set(statuses) <= {404, 429}
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
