"""Certificate signatures rotate without breaking old certificates; credential proofs interoperate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from lms.certificates.services.credentials import (
    CredentialFacts,
    CredentialInvalid,
    IssuerSite,
    issuer_profile,
    sign_credential,
    unsigned_credential,
    verify_credential,
    verify_proof,
)
from lms.certificates.services.signing import (
    base58btc,
    base58btc_decode,
    certificate_signature_valid,
    sign_certificate,
)
from lms.certificates.services.storage import download_signature_valid, signed_download_path

SECRET = "unit-test-secret"
ISSUED = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)

W3C_KEY = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
# The eddsa-jcs-2022 example credential published with the W3C Data Integrity EdDSA test vectors,
# signed by an independent implementation: our verifier must accept it.
W3C_EDDSA_JCS_2022 = {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": f"did:key:{W3C_KEY}",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
    "proof": {
        "type": "DataIntegrityProof",
        "created": "2023-02-24T23:36:38Z",
        "verificationMethod": f"did:key:{W3C_KEY}#{W3C_KEY}",
        "cryptosuite": "eddsa-jcs-2022",
        "proofPurpose": "assertionMethod",
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "proofValue": "z5EhYRJkfPLkoT92FPXN8KK6M9rsBhq3xs19GBSsA6VdNYH4QMKSyNuA2Gfznz9QthVD7Rz3HTAfqxxay23htUpTg",
    },
}


def test_a_certificate_signed_under_an_old_key_version_still_verifies_after_rotation() -> None:
    cert_id, user_id, course_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    old = sign_certificate(SECRET, 1, cert_id, user_id, course_id, ISSUED)
    new = sign_certificate(SECRET, 2, cert_id, user_id, course_id, ISSUED)

    assert old != new
    assert certificate_signature_valid(SECRET, 1, old, cert_id, user_id, course_id, ISSUED)
    assert certificate_signature_valid(SECRET, 2, new, cert_id, user_id, course_id, ISSUED)
    assert not certificate_signature_valid(SECRET, 2, old, cert_id, user_id, course_id, ISSUED)
    assert not certificate_signature_valid(SECRET, 1, old, cert_id, uuid.uuid4(), course_id, ISSUED)
    assert not certificate_signature_valid("another-secret", 1, old, cert_id, user_id, course_id, ISSUED)


def test_base58btc_round_trips_and_keeps_leading_zero_bytes() -> None:
    for data in (b"", b"\0\0\x01", bytes(range(256)), b"hello world"):
        assert base58btc_decode(base58btc(data)) == data
    assert base58btc(b"hello world") == "StV1DL6CwTryKyV"


def test_the_published_w3c_eddsa_jcs_2022_example_verifies() -> None:
    verify_proof(W3C_EDDSA_JCS_2022, W3C_KEY)
    altered = {**W3C_EDDSA_JCS_2022, "name": "Forged Credential"}
    with pytest.raises(CredentialInvalid, match="signature"):
        verify_proof(altered, W3C_KEY)


def test_credentials_signed_with_an_older_tenant_key_verify_after_rotation() -> None:
    tenant_id = uuid.uuid4()
    site = IssuerSite(base_url="https://learn.acme.test", name="Acme")
    facts = CredentialFacts(
        cert_id=uuid.uuid4(),
        course_id=uuid.uuid4(),
        course_title="Forklift safety",
        learner_name="Ada",
        learner_email="ada@acme.test",
        issued_at=ISSUED,
        expires_at=None,
        verify_url="https://learn.acme.test/verify/x",
    )
    credential = sign_credential(unsigned_credential(site, facts), site, SECRET, tenant_id, 1, ISSUED)

    verify_credential(credential, issuer_profile(site, SECRET, tenant_id, range(1, 3)))
    with pytest.raises(CredentialInvalid, match="assertion method"):
        verify_credential(credential, issuer_profile(site, SECRET, tenant_id, range(2, 3)))


def test_download_links_expire_and_name_their_tenant() -> None:
    tenant_id, cert_id = uuid.uuid4(), uuid.uuid4()
    path = signed_download_path(SECRET, tenant_id, cert_id, now=1_000_000.0)
    expires = int(path.split("expires=")[1].split("&")[0])
    signature = path.split("signature=")[1]

    assert expires == 1_000_300
    assert not download_signature_valid(SECRET, tenant_id, cert_id, expires, signature)  # long past
    fresh = signed_download_path(SECRET, tenant_id, cert_id)
    fresh_expires = int(fresh.split("expires=")[1].split("&")[0])
    fresh_signature = fresh.split("signature=")[1]
    assert download_signature_valid(SECRET, tenant_id, cert_id, fresh_expires, fresh_signature)
    assert not download_signature_valid(SECRET, uuid.uuid4(), cert_id, fresh_expires, fresh_signature)
