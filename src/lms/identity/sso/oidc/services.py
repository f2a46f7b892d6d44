"""OpenID Connect relying party: discovery, authorization code flow with PKCE, state and nonce,
ID token validation against the provider's JWKS, and userinfo.

The state (with nonce, PKCE verifier, provider and where to go next) lives in Redis for ten minutes and
is consumed once (GETDEL), bound to the tenant and provider that started the sign-in. The client
authenticates at the token endpoint as configured: HTTP Basic, form fields, or not at all (a public
client, which PKCE protects). Every call to the provider has a time limit; any failure of the provider
becomes SsoProviderUnavailable, with the cause in the log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import httpx
import structlog

from lms.identity.models import SsoProvider
from lms.identity.signin.services.tokens import InvalidToken, unverified_kid, verify_id_token
from lms.identity.sso.services.fetch import TIMEOUT_SECONDS, FetchRefused, call_json, fetch_document
from lms.identity.sso.services.provisioning import SsoFailed, SsoProviderUnavailable, secret_cipher

STATE_SECONDS = 600
CACHE_SECONDS = 600.0
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
_discovery_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}

log = structlog.get_logger(__name__)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise SsoFailed(f"the provider's {what} is not JSON") from exc
    if not isinstance(document, dict):
        raise SsoFailed(f"the provider's {what} is not a JSON object")
    return document


async def discover(issuer: str, allowed_private: frozenset[str], time_limit: float = TIMEOUT_SECONDS) -> dict[str, Any]:
    """The provider's configuration; its `issuer` must equal the configured one exactly."""
    issuer = issuer.rstrip("/")
    cached = _discovery_cache.get(issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    raw = await fetch_document(f"{issuer}/.well-known/openid-configuration", allowed_private, "issuer", time_limit)
    document = _json_object(raw, "discovery document")
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise SsoFailed("the provider's discovery document names a different issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise SsoFailed(f"the provider's discovery document has no {key}")
    _discovery_cache[issuer] = (time.monotonic() + CACHE_SECONDS, document)
    return document


async def _jwks(uri: str, allowed_private: frozenset[str], kid: str | None, time_limit: float) -> dict[str, Any]:
    cached = _jwks_cache.get(uri)
    known = cached is not None and any(k.get("kid") == kid for k in cached[1].get("keys", []))
    if cached and cached[0] > time.monotonic() and (kid is None or known):
        return cached[1]
    document = _json_object(await fetch_document(uri, allowed_private, "jwks_uri", time_limit), "key set")
    _jwks_cache[uri] = (time.monotonic() + CACHE_SECONDS, document)
    return document


@dataclass(frozen=True)
class PendingSignIn:
    """What the state names: the provider, where to go afterwards, and for a test sign-in the admin
    who started it (a test ends on a page of what the provider asserted, without any session)."""

    provider_id: UUID
    next_path: str
    tested_by: UUID | None = None


def state_key(namespace: str, state: str) -> str:
    return f"{namespace}:oidc:state:{state}"


async def pending_sign_in(redis: Any, namespace: str, state: str) -> PendingSignIn | None:
    """Look at a state without consuming it (the callback needs its provider before anything else)."""
    raw = await redis.get(state_key(namespace, state))
    if raw is None:
        return None
    record = json.loads(raw)
    tested_by = record.get("tested_by")
    return PendingSignIn(UUID(record["provider_id"]), str(record["next"]), UUID(tested_by) if tested_by else None)


class OidcSignIn:
    """One provider of one tenant, seen from our side."""

    def __init__(
        self,
        provider: SsoProvider,
        redis: Any,
        namespace: str,
        secret_key: str,
        allowed: frozenset[str],
        time_limit: float = TIMEOUT_SECONDS,
    ) -> None:
        self.provider = provider
        self.redis = redis
        self.namespace = namespace
        self.secret_key = secret_key
        self.allowed = allowed
        self.timeout = time_limit
        self.issuer = str(provider.config.get("issuer", "")).rstrip("/")
        self.client_id = str(provider.config.get("client_id", ""))

    def _unavailable(self, exc: Exception) -> SsoProviderUnavailable:
        log.warning("sso_provider_unavailable", provider_id=str(self.provider.id), cause=f"{type(exc).__name__}: {exc}")
        return SsoProviderUnavailable(f"{self.provider.name} could not complete the sign-in; try again later")

    async def _discover(self) -> dict[str, Any]:
        try:
            return await discover(self.issuer, self.allowed, self.timeout)
        except (FetchRefused, SsoFailed) as exc:
            raise self._unavailable(exc) from exc

    async def authorization_url(self, redirect_uri: str, next_path: str, tested_by: UUID | None = None) -> str:
        """Where to send the browser: the provider's authorization endpoint with state, nonce and PKCE.

        With `tested_by` (an admin's id) the sign-in is a test: the state says so, so the callback shows
        the claims to that admin instead of signing anyone in."""
        document = await self._discover()
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        record = {
            "tenant_id": str(self.provider.tenant_id),
            "provider_id": str(self.provider.id),
            "nonce": nonce,
            "verifier": verifier,
            "next": next_path,
            "tested_by": str(tested_by) if tested_by else None,
        }
        await self.redis.set(state_key(self.namespace, state), json.dumps(record), ex=STATE_SECONDS)
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

    async def abandon(self, state: str) -> None:
        """The provider sent the browser back without a code: the state is spent."""
        await self.redis.delete(state_key(self.namespace, state))

    async def _consume_state(self, state: str) -> dict[str, Any]:
        raw = await self.redis.getdel(state_key(self.namespace, state))
        if raw is None:
            raise SsoFailed("this sign-in has expired or was already completed; start again")
        record: dict[str, Any] = json.loads(raw)
        if record["tenant_id"] != str(self.provider.tenant_id) or record["provider_id"] != str(self.provider.id):
            raise SsoFailed("this sign-in was started for another site")
        return record

    def _token_request(self, form: dict[str, str]) -> tuple[dict[str, str], httpx.BasicAuth | None]:
        """The token request's form and HTTP auth for the configured client authentication method."""
        method = self.provider.config.get("token_endpoint_auth_method", "client_secret_basic")
        if method == "none":
            return form, None
        secret = (
            secret_cipher(self.secret_key).decrypt(self.provider.secret_encrypted).decode()
            if self.provider.secret_encrypted
            else ""
        )
        if method == "client_secret_post":
            return {**form, "client_secret": secret}, None
        return form, httpx.BasicAuth(self.client_id, secret)

    async def _redeem(self, document: dict[str, Any], code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        form, auth = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
                "client_id": self.client_id,
            }
        )
        try:
            status, tokens = await call_json(
                "POST", document["token_endpoint"], self.allowed, "token_endpoint", self.timeout, data=form, auth=auth
            )
        except FetchRefused as exc:
            raise self._unavailable(exc) from exc
        if status != 200 or not isinstance(tokens, dict):
            log.warning("sso_token_refused", provider_id=str(self.provider.id), status=status, body=str(tokens)[:500])
            raise SsoFailed(f"{self.provider.name} refused the sign-in code ({status})")
        return tokens

    async def _userinfo(self, document: dict[str, Any], access_token: str, subject: str) -> dict[str, Any]:
        endpoint = document.get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return {}
        try:
            status, info = await call_json(
                "GET",
                endpoint,
                self.allowed,
                "userinfo_endpoint",
                self.timeout,
                headers={"Authorization": f"Bearer {access_token}"},
            )
        except FetchRefused as exc:
            raise self._unavailable(exc) from exc
        if status != 200 or not isinstance(info, dict):
            raise self._unavailable(RuntimeError(f"userinfo answered {status}"))
        # Userinfo about someone else is ignored (OpenID Connect Core 5.3.2).
        return info if info.get("sub") == subject else {}

    async def complete(self, code: str, state: str, redirect_uri: str) -> tuple[dict[str, Any], str]:
        """Redeem the code; returns the verified claims (ID token + userinfo) and the next path."""
        record = await self._consume_state(state)
        document = await self._discover()
        tokens = await self._redeem(document, code, record["verifier"], redirect_uri)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SsoFailed("the provider returned no ID token")
        try:
            jwks = await _jwks(document["jwks_uri"], self.allowed, unverified_kid(id_token), self.timeout)
        except (FetchRefused, SsoFailed) as exc:
            raise self._unavailable(exc) from exc
        access_token = tokens.get("access_token")
        try:
            claims = verify_id_token(
                id_token,
                jwks,
                self.issuer,
                self.client_id,
                record["nonce"],
                access_token if isinstance(access_token, str) else None,
            )
        except InvalidToken as exc:
            raise SsoFailed(str(exc)) from exc
        if isinstance(access_token, str):
            claims = {**await self._userinfo(document, access_token, str(claims.get("sub"))), **claims}
        return claims, str(record["next"])
