"""ID tokens from OpenID providers are checked for signature, algorithm, issuer, audience, expiry and nonce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from lms.identity.signin.services.tokens import InvalidToken, verify_id_token

ISSUER = "https://idp.example.com"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
JWKS = {"keys": [KEY.as_dict(private=False)]}


def token(**overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "lms", "sub": "u1", "iat": now, "exp": now + 300, "nonce": "n1"}
    claims.update(overrides)
    return jwt.encode({"alg": "RS256", "kid": "k1"}, {k: v for k, v in claims.items() if v is not None}, KEY)


def test_a_good_token_passes() -> None:
    assert verify_id_token(token(), JWKS, ISSUER, "lms", "n1")["sub"] == "u1"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aud": "someone-else"}, "invalid ID token"),
        ({"iss": "https://evil.example.com"}, "invalid ID token"),
        ({"exp": int(time.time()) - 3600}, "ID token expired"),
        ({"nonce": "other"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": None}, "invalid ID token"),
    ],
)
def test_wrong_claims_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidToken, match=message):
        verify_id_token(token(**overrides), JWKS, ISSUER, "lms", "n1")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_none_and_hmac_algorithms_are_rejected() -> None:
    body = _b64(json.dumps({"iss": ISSUER, "aud": "lms", "sub": "u1", "nonce": "n1"}).encode())
    unsigned = _b64(json.dumps({"alg": "none", "kid": "k1"}).encode()) + "." + body + "."
    with pytest.raises(InvalidToken, match="unsupported"):
        verify_id_token(unsigned, JWKS, ISSUER, "lms", "n1")
    signing_input = _b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode()) + "." + body
    mac = hmac.new(json.dumps(JWKS["keys"][0]).encode(), signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken, match="unsupported"):
        verify_id_token(f"{signing_input}.{_b64(mac)}", JWKS, ISSUER, "lms", "n1")


def test_a_key_the_provider_does_not_publish_is_rejected() -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    now = int(time.time())
    forged = jwt.encode(
        {"alg": "RS256", "kid": "k1"},
        {"iss": ISSUER, "aud": "lms", "sub": "u1", "iat": now, "exp": now + 60, "nonce": "n1"},
        stranger,
    )
    with pytest.raises(InvalidToken, match="invalid ID token"):
        verify_id_token(forged, JWKS, ISSUER, "lms", "n1")
