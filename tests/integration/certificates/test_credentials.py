"""Learners download an Open Badges 3.0 credential that anyone can check against the tenant's issuer profile."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lms.certificates.services.credentials import CredentialInvalid, verify_credential
from tests.conftest import MakeTenant, host
from tests.integration.catalog.helpers import Client
from tests.integration.certificates.conftest import Complete, Issue


async def downloaded(client: Client, complete: Complete, issue: Issue) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    done = await complete(name="Katherine Johnson", title="Orbital Mechanics")
    cert = await issue(done)
    response = await client.get(f"{done.base}/api/v1/me/certificates/{cert.id}/credential", headers=done.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    assert "attachment" in response.headers["content-disposition"]
    profile = (await client.get(f"{done.base}/credentials/issuer")).json()
    return done, response.json(), profile


async def test_the_credential_has_the_open_badges_structure_and_a_valid_proof(
    client: Client, complete: Complete, issue: Issue
) -> None:
    done, credential, profile = await downloaded(client, complete, issue)

    verify_credential(credential, profile)

    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["issuer"]["id"] == f"{done.base}/credentials/issuer" == profile["id"]
    assert credential["issuer"]["name"] == done.tenant.name
    assert credential["validFrom"].endswith("Z")
    subject = credential["credentialSubject"]
    assert subject["name"] == "Katherine Johnson"
    assert subject["achievement"]["type"] == ["Achievement"]
    assert subject["achievement"]["name"] == "Orbital Mechanics"
    assert subject["identifier"][0]["identityType"] == "emailAddress"
    assert done.user.email not in str(credential)
    proof = credential["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["verificationMethod"] in profile["assertionMethod"]
    assert proof["proofValue"].startswith("z")
    assert profile["verificationMethod"][0]["publicKeyMultibase"].startswith("z6Mk")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("credentialSubject", "name"), "Someone Else"),
        (("credentialSubject", "achievement", "name"), "Rocket Science"),
        (("validFrom",), "2020-01-01T00:00:00Z"),
        (("proof", "created"), "2020-01-01T00:00:00Z"),
    ],
)
async def test_any_change_to_the_credential_breaks_the_proof(
    client: Client, complete: Complete, issue: Issue, path: tuple[str, ...], value: str
) -> None:
    _, credential, profile = await downloaded(client, complete, issue)
    tampered = copy.deepcopy(credential)
    target = tampered
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises(CredentialInvalid, match="signature"):
        verify_credential(tampered, profile)


async def test_a_credential_does_not_verify_against_another_tenants_keys(
    client: Client, complete: Complete, issue: Issue, make_tenant: MakeTenant
) -> None:
    _, credential, _ = await downloaded(client, complete, issue)
    other = await make_tenant()
    other_profile = (await client.get(f"{host(other)}/credentials/issuer")).json()
    # Even an issuer profile that claims the first tenant's id holds different keys.
    impostor = {**other_profile, "id": credential["issuer"]["id"]}
    impostor["verificationMethod"] = [
        {**method, "id": credential["proof"]["verificationMethod"]} for method in other_profile["verificationMethod"]
    ]
    impostor["assertionMethod"] = [credential["proof"]["verificationMethod"]]

    with pytest.raises(CredentialInvalid):
        verify_credential(credential, other_profile)
    with pytest.raises(CredentialInvalid, match="signature"):
        verify_credential(credential, impostor)


async def test_a_credential_missing_required_parts_is_rejected(
    client: Client, complete: Complete, issue: Issue
) -> None:
    _, credential, profile = await downloaded(client, complete, issue)
    for key, broken in [
        ("type", ["VerifiableCredential"]),
        ("@context", ["https://www.w3.org/2018/credentials/v1"]),
        ("issuer", "https://example.test/issuer"),
        ("credentialSubject", {"type": ["AchievementSubject"]}),
    ]:
        with pytest.raises(CredentialInvalid):
            verify_credential({**credential, key: broken}, profile)
    without_valid_from = {k: v for k, v in credential.items() if k != "validFrom"}
    with pytest.raises(CredentialInvalid, match="validFrom"):
        verify_credential(without_valid_from, profile)
