"""OpenID Connect relying party: discovery, authorization code flow with PKCE, state and nonce,
ID token validation against the provider's JWKS, and userinfo.

The state (with nonce, PKCE verifier and where to go next) lives in Redis for ten minutes and is
consumed once (GETDEL), bound to the tenant and provider that started the sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from lms.identity.models import SsoProvider
from lms.identity.sso.fetch import fetch_document, get_json_with_bearer, post_form
from lms.identity.sso.provisioning import SsoFailed, secret_cipher
from lms.identity.tokens import InvalidToken, unverified_kid, verify_id_token

STATE_SECONDS = 600
CACHE_SECONDS = 600.0
_discovery_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def discover(issuer: str, allowed_private: frozenset[str]) -> dict[str, Any]:
    """The provider's configuration; its `issuer` must equal the configured one exactly."""
    issuer = issuer.rstrip("/")
    cached = _discovery_cache.get(issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    raw = await fetch_document(f"{issuer}/.well-known/openid-configuration", allowed_private, field="issuer")
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise SsoFailed("the provider's discovery document is not JSON") from exc
    if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer:
        raise SsoFailed("the provider's discovery document names a different issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise SsoFailed(f"the provider's discovery document has no {key}")
    _discovery_cache[issuer] = (time.monotonic() + CACHE_SECONDS, document)
    return document


async def _jwks(uri: str, allowed_private: frozenset[str], kid: str | None) -> dict[str, Any]:
    cached = _jwks_cache.get(uri)
    known = cached is not None and any(k.get("kid") == kid for k in cached[1].get("keys", []))
    if cached and cached[0] > time.monotonic() and (kid is None or known):
        return cached[1]
    document = json.loads(await fetch_document(uri, allowed_private, field="jwks_uri"))
    if not isinstance(document, dict):
        raise SsoFailed("the provider's key set is not a JSON object")
    _jwks_cache[uri] = (time.monotonic() + CACHE_SECONDS, document)
    return document


class OidcSignIn:
    """One provider of one tenant, seen from our side."""

    def __init__(self, provider: SsoProvider, redis: Any, namespace: str, secret_key: str, allowed: frozenset[str]):
        self.provider = provider
        self.redis = redis
        self.namespace = namespace
        self.secret_key = secret_key
        self.allowed = allowed
        self.issuer = str(provider.config.get("issuer", "")).rstrip("/")
        self.client_id = str(provider.config.get("client_id", ""))

    def _state_key(self, state: str) -> str:
        return f"{self.namespace}:oidc:state:{state}"

    async def authorization_url(self, redirect_uri: str, next_path: str) -> str:
        """Where to send the browser: the provider's authorization endpoint with state, nonce and PKCE."""
        document = await discover(self.issuer, self.allowed)
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        record = {
            "tenant_id": str(self.provider.tenant_id),
            "provider_id": str(self.provider.id),
            "nonce": nonce,
            "verifier": verifier,
            "next": next_path,
        }
        await self.redis.set(self._state_key(state), json.dumps(record), ex=STATE_SECONDS)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.provider.config.get("scopes") or ["openid", "email", "profile"]),
            "state": state,
            "nonce": nonce,
            "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
        return f"{document['authorization_endpoint']}?{urlencode(params)}"

    async def complete(self, code: str, state: str, redirect_uri: str) -> tuple[dict[str, Any], str]:
        """Redeem the code; returns the verified claims (ID token + userinfo) and the next path."""
        raw = await self.redis.getdel(self._state_key(state))
        if raw is None:
            raise SsoFailed("this sign-in has expired or was already completed; start again")
        record = json.loads(raw)
        if record["tenant_id"] != str(self.provider.tenant_id) or record["provider_id"] != str(self.provider.id):
            raise SsoFailed("this sign-in was started for another site")
        document = await discover(self.issuer, self.allowed)
        secret = (
            secret_cipher(self.secret_key).decrypt(self.provider.secret_encrypted).decode()
            if self.provider.secret_encrypted
            else ""
        )
        response = await post_form(
            document["token_endpoint"],
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": record["verifier"],
                "client_id": self.client_id,
            },
            self.allowed,
            auth=(self.client_id, secret),
        )
        if response.status_code != 200:
            raise SsoFailed(f"the provider refused the sign-in code ({response.status_code})")
        tokens = response.json()
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SsoFailed("the provider returned no ID token")
        jwks = await _jwks(document["jwks_uri"], self.allowed, unverified_kid(id_token))
        try:
            claims = verify_id_token(
                id_token, jwks, self.issuer, self.client_id, record["nonce"], tokens.get("access_token")
            )
        except InvalidToken as exc:
            raise SsoFailed(str(exc)) from exc
        userinfo_endpoint = document.get("userinfo_endpoint")
        if isinstance(userinfo_endpoint, str) and isinstance(tokens.get("access_token"), str):
            info = await get_json_with_bearer(userinfo_endpoint, tokens["access_token"], self.allowed)
            if info.status_code == 200:
                extra = info.json()
                if isinstance(extra, dict) and extra.get("sub") == claims["sub"]:
                    claims = {**extra, **claims}
        return claims, str(record["next"])
