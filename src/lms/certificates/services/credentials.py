"""Open Badges 3.0 credentials (W3C Verifiable Credentials 2.0) signed with eddsa-jcs-2022.

The proof follows the W3C "Data Integrity EdDSA Cryptosuites v1.0" JCS variant: the document and the
proof options (without proofValue) are each canonicalised with JCS (RFC 8785) and hashed with
SHA-256; Ed25519 signs hash(proof options) || hash(document); proofValue is multibase base58btc.
The issuer is the tenant: its profile, with the Multikey verification methods, is published at
`/credentials/issuer` on the tenant's host.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import rfc8785
from cryptography.exceptions import InvalidSignature

from lms.certificates.services.signing import (
    credential_private_key,
    multibase,
    multibase_decode,
    public_key_from_multibase,
    public_key_multibase,
)

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CREDENTIAL_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
CRYPTOSUITE = "eddsa-jcs-2022"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class IssuerSite:
    """Where the tenant publishes itself: its base URL (custom domain or slug host) and name."""

    base_url: str
    name: str

    @property
    def profile_url(self) -> str:
        return f"{self.base_url}/credentials/issuer"

    def method_id(self, version: int) -> str:
        return f"{self.profile_url}#key-{version}"


def issuer_profile(site: IssuerSite, secret_key: str, tenant_id: UUID, versions: range) -> dict[str, Any]:
    """The tenant's Open Badges issuer Profile with every verification key still accepted."""
    methods = [
        {
            "id": site.method_id(version),
            "type": "Multikey",
            "controller": site.profile_url,
            "publicKeyMultibase": public_key_multibase(
                credential_private_key(secret_key, tenant_id, version).public_key()
            ),
        }
        for version in versions
    ]
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": site.profile_url,
        "type": ["Profile"],
        "name": site.name,
        "url": site.base_url + "/",
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }


@dataclass(frozen=True)
class CredentialFacts:
    cert_id: UUID
    course_id: UUID
    course_title: str
    learner_name: str
    learner_email: str
    issued_at: datetime
    expires_at: datetime | None
    verify_url: str


def unsigned_credential(site: IssuerSite, facts: CredentialFacts) -> dict[str, Any]:
    # The learner is identified by a salted e-mail hash, so the credential does not publish the address.
    salt = hashlib.sha256(f"{facts.cert_id}:salt".encode()).hexdigest()[:16]
    identity_hash = hashlib.sha256((facts.learner_email.strip().lower() + salt).encode()).hexdigest()
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": f"urn:uuid:{facts.cert_id}",
        "type": list(CREDENTIAL_TYPES),
        "name": facts.course_title,
        "issuer": {"id": site.profile_url, "type": ["Profile"], "name": site.name, "url": site.base_url + "/"},
        "validFrom": _stamp(facts.issued_at),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": facts.learner_name,
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": f"sha256${identity_hash}",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": salt,
                }
            ],
            "achievement": {
                "id": f"{site.base_url}/courses/{facts.course_id}#achievement",
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": facts.course_title,
                "description": f"Completion of the course {facts.course_title}.",
                "criteria": {"narrative": "Completed every required lesson and passed every required assessment."},
            },
        },
        "evidence": [{"id": facts.verify_url, "type": ["Evidence"], "name": "Certificate verification page"}],
    }
    if facts.expires_at is not None:
        credential["validUntil"] = _stamp(facts.expires_at)
    return credential


def _hash_data(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    return hashlib.sha256(rfc8785.dumps(options)).digest() + hashlib.sha256(rfc8785.dumps(document)).digest()


def sign_credential(
    document: dict[str, Any], site: IssuerSite, secret_key: str, tenant_id: UUID, version: int, created: datetime
) -> dict[str, Any]:
    """Add a DataIntegrityProof (eddsa-jcs-2022) made with the tenant's key of `version`."""
    options: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": _stamp(created),
        "verificationMethod": site.method_id(version),
        "proofPurpose": "assertionMethod",
        "@context": document["@context"],
    }
    signature = credential_private_key(secret_key, tenant_id, version).sign(_hash_data(document, options))
    return {**document, "proof": {**options, "proofValue": multibase(signature)}}


class CredentialInvalid(ValueError):
    """The credential's structure or proof does not check out."""


def verify_credential(credential: dict[str, Any], profile: dict[str, Any]) -> None:
    """Check the structure and the eddsa-jcs-2022 proof against the issuer's published profile."""
    _check_structure(credential)
    proof = dict(credential.get("proof") or {})
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise CredentialInvalid("unsupported proof type")
    if proof.get("proofPurpose") != "assertionMethod":
        raise CredentialInvalid("the proof is not for assertions")
    method_id = proof.get("verificationMethod")
    if method_id not in profile.get("assertionMethod", []):
        raise CredentialInvalid("the verification method is not an assertion method of the issuer")
    method = next((m for m in profile.get("verificationMethod", []) if m.get("id") == method_id), None)
    if method is None or credential["issuer"]["id"] != profile.get("id"):
        raise CredentialInvalid("the issuer does not publish this key")
    verify_proof(credential, str(method.get("publicKeyMultibase", "")))


def verify_proof(credential: dict[str, Any], public_key_multibase: str) -> None:
    """Check an eddsa-jcs-2022 DataIntegrityProof with the given Multikey public key."""
    proof = dict(credential.get("proof") or {})
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise CredentialInvalid("unsupported cryptosuite")
    document = {key: value for key, value in credential.items() if key != "proof"}
    if "@context" in proof and proof["@context"] != document.get("@context"):
        raise CredentialInvalid("the proof context does not match the document")
    try:
        signature = multibase_decode(str(proof.pop("proofValue", "")))
        public_key_from_multibase(public_key_multibase).verify(signature, _hash_data(document, proof))
    except (ValueError, InvalidSignature) as exc:
        raise CredentialInvalid("the proof signature does not verify") from exc


def _check_structure(credential: dict[str, Any]) -> None:
    context = credential.get("@context")
    if not isinstance(context, list) or context[:1] != [VC_CONTEXT] or OB_CONTEXT not in context:
        raise CredentialInvalid("@context must start with the VC 2.0 context and include Open Badges 3.0")
    if credential.get("type") != CREDENTIAL_TYPES:
        raise CredentialInvalid("type must be VerifiableCredential, OpenBadgeCredential")
    issuer = credential.get("issuer")
    if not isinstance(issuer, dict) or not issuer.get("id") or "Profile" not in issuer.get("type", []):
        raise CredentialInvalid("issuer must be a Profile with an id")
    if not isinstance(credential.get("validFrom"), str):
        raise CredentialInvalid("validFrom is required")
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    if not isinstance(achievement, dict) or "Achievement" not in achievement.get("type", []):
        raise CredentialInvalid("credentialSubject.achievement must be an Achievement")
    if not achievement.get("name") or not isinstance(achievement.get("criteria"), dict):
        raise CredentialInvalid("the achievement needs a name and criteria")


def linkedin_add_url(
    course_title: str,
    organisation: str,
    issued_at: datetime,
    expires_at: datetime | None,
    verify_url: str,
    cert_id: UUID,
) -> str:
    """LinkedIn's "Add licence or certification" link, pre-filled."""
    params: dict[str, str | int] = {
        "startTask": "CERTIFICATION_NAME",
        "name": course_title,
        "organizationName": organisation,
        "issueYear": issued_at.year,
        "issueMonth": issued_at.month,
        "certUrl": verify_url,
        "certId": str(cert_id),
    }
    if expires_at is not None:
        params["expirationYear"] = expires_at.year
        params["expirationMonth"] = expires_at.month
    return "https://www.linkedin.com/profile/add?" + urlencode(params)
