"""Access tokens (RS256 JWT). The only module that talks to python-jose.

Always decode with an explicit algorithm list: `alg: none`, HS256 signed with the public key and
any other algorithm are rejected before a signature is even considered.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from jose import jwt
from jose.exceptions import ExpiredSignatureError, JWTError

from lms.identity.signin.services.keys import KeyRing
from lms.lib import clock

ALGORITHMS = ["RS256"]
AUDIENCE = "lms"
ISSUER = "lms"


class InvalidToken(Exception):
    """The token is not acceptable; the message says why (safe to show)."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    tenant_id: UUID
    roles: frozenset[str]
    expires_at: int
    token_id: str
    issued_at: int
    # The sign-in session (refresh-token family) the token belongs to; signing out ends it.
    session_id: UUID | None = None


async def issue_access_token(
    keys: KeyRing,
    user_id: UUID,
    tenant_id: UUID,
    roles: list[str] | frozenset[str],
    lifetime_seconds: int,
    session_id: UUID | None = None,
) -> str:
    key = await keys.signing_key()
    now = int(clock.timestamp())
    claims = {
        "sub": str(user_id),
        "tid": str(tenant_id),
        "roles": sorted(roles),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": secrets.token_urlsafe(12),
    }
    if session_id is not None:
        claims["sid"] = str(session_id)
    assert key.private_pem is not None
    return str(jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid}))


# Verified tokens, so that a client's repeated requests skip parsing and the RSA check. An entry is
# used only while its token is unexpired and its signing key is still in the key ring, so caching
# never extends what the signature allowed (nor outlives a key withdrawn early).
_VERIFIED_CACHE_SIZE = 10_000
_verified: dict[str, tuple[AccessClaims, str]] = {}


async def verify_access_token(keys: KeyRing, token: str) -> AccessClaims:
    cached = _verified.get(token)
    if cached is not None:
        claims, kid = cached
        if claims.expires_at > clock.timestamp() and await keys.verification_key(kid) is not None:
            return claims
        _verified.pop(token, None)
    claims, kid = await _verify_access_token(keys, token)
    if len(_verified) >= _VERIFIED_CACHE_SIZE:
        _verified.clear()
    _verified[token] = (claims, kid)
    return claims


async def _verify_access_token(keys: KeyRing, token: str) -> tuple[AccessClaims, str]:
    try:
        header = jwt.get_unverified_header(token)
    except JWTError as exc:
        raise InvalidToken("malformed token") from exc
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("unsupported token algorithm")
    kid = header.get("kid")
    key = await keys.verification_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("unknown signing key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.public_jwk, algorithms=ALGORITHMS, audience=AUDIENCE, issuer=ISSUER
        )
    except ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except JWTError as exc:
        raise InvalidToken("invalid token") from exc
    try:
        access = AccessClaims(
            user_id=UUID(claims["sub"]),
            tenant_id=UUID(claims["tid"]),
            roles=frozenset(claims.get("roles", [])),
            expires_at=int(claims["exp"]),
            token_id=str(claims.get("jti", "")),
            issued_at=int(claims["iat"]),
            session_id=UUID(claims["sid"]) if "sid" in claims else None,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidToken("token is missing required claims") from exc
    return access, key.kid


# ID tokens of external OpenID providers: asymmetric algorithms only, never "none" or HMAC.
ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256"]


def verify_id_token(
    token: str, jwks: dict[str, Any], issuer: str, audience: str, nonce: str, access_token: str | None = None
) -> dict[str, Any]:
    """Validate an OpenID Connect ID token against the provider's key set: signature, iss, aud, exp, nonce."""
    try:
        header = jwt.get_unverified_header(token)
    except JWTError as exc:
        raise InvalidToken("malformed ID token") from exc
    alg = header.get("alg")
    if alg not in ID_TOKEN_ALGORITHMS:
        raise InvalidToken("unsupported ID token algorithm")
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict)]
    kid = header.get("kid")
    candidates = [k for k in keys if k.get("kid") == kid] if kid else keys
    if len(candidates) != 1:
        raise InvalidToken("no single matching key for the ID token")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            candidates[0],
            algorithms=[alg],
            audience=audience,
            issuer=issuer,
            access_token=access_token,
            options={"require_exp": True, "require_iat": True, "require_sub": True, "leeway": 30},
        )
    except ExpiredSignatureError as exc:
        raise InvalidToken("ID token expired") from exc
    except JWTError as exc:
        raise InvalidToken(f"invalid ID token: {exc}") from exc
    if claims.get("nonce") != nonce:
        raise InvalidToken("ID token nonce does not match this sign-in")
    audiences = claims.get("aud")
    if isinstance(audiences, list) and len(audiences) > 1 and claims.get("azp") != audience:
        raise InvalidToken("ID token for several audiences without this client as azp")
    return claims


def unverified_kid(token: str) -> str | None:
    """The `kid` header of a token (to decide whether a provider's key set needs reloading)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except JWTError:
        return None
    return kid if isinstance(kid, str) else None
