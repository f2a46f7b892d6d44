"""SAML 2.0 service provider (python3-saml), one per configured provider of a tenant.

Strict mode; assertions must be signed; SHA-256 for our signatures; deprecated algorithms (SHA-1)
are rejected; an assertion id is accepted once (kept until the assertion expires); a response that
answers a request must answer one we sent for this tenant and provider, from the browser that started it
(a short-lived cookie), and spends that request only once it is valid (kept in Redis for 10 minutes);
a response without InResponseTo is an IdP-initiated sign-in. Destination and Recipient must equal our
URL exactly (python3-saml compares prefixes). Logout messages must be signed by the IdP, name it as
Issuer and our single-logout URL as Destination.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import SamlAssertionSeen, SsoProvider
from lms.identity.sso.services.provisioning import SsoFailed, SsoMalformed, secret_cipher
from lms.lib import clock
from lms.lib.errors import ValidationFailed

REQUEST_SECONDS = 600
SAML_REQUEST_COOKIE = "lms_saml_request"
# Far above any real SAML message; a DEFLATE bomb stops here.
MAX_MESSAGE_BYTES = 512 * 1024
PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
SECURITY = {
    "authnRequestsSigned": True,
    "logoutRequestSigned": True,
    "logoutResponseSigned": True,
    "signMetadata": False,
    "wantAssertionsSigned": True,
    "wantMessagesSigned": False,
    "wantNameId": True,
    "wantAttributeStatement": False,
    "requestedAuthnContext": False,
    "signatureAlgorithm": OneLogin_Saml2_Constants.RSA_SHA256,
    "digestAlgorithm": OneLogin_Saml2_Constants.SHA256,
    "rejectDeprecatedAlgorithm": True,
    "allowRepeatAttributeName": True,
}


def new_sp_keypair(common_name: str) -> tuple[str, str]:
    """A self-signed certificate and key the SP signs its requests with (PEM cert, PEM key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = clock.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert_pem, key_pem


def parse_idp_metadata(xml: str, field: str = "metadata_xml") -> dict[str, Any]:
    """The IdP part of the settings (entity id, SSO/SLO URLs, signing certificates) from its metadata."""
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)
    except Exception as exc:  # the parser raises a variety of XML errors for bad documents
        raise ValidationFailed(f"not valid SAML IdP metadata: {exc}", field=field) from exc
    idp = parsed.get("idp")
    if not idp or not idp.get("entityId") or not idp.get("singleSignOnService", {}).get("url"):
        raise ValidationFailed("the metadata has no IdP entity id or HTTP-Redirect SSO service", field=field)
    if not idp.get("x509cert") and not idp.get("x509certMulti", {}).get("signing"):
        raise ValidationFailed("the metadata has no signing certificate", field=field)
    return dict(idp)


class SamlServiceProvider:
    """The SP side for one provider, seen from one request's site URL."""

    def __init__(self, provider: SsoProvider, site_url: str, secret_key: str) -> None:
        self.provider = provider
        self.site_url = site_url.rstrip("/")
        self.secret_key = secret_key
        base = f"{self.site_url}/auth/saml/{provider.id}"
        self.entity_id = f"{base}/metadata"
        self.acs_url = f"{base}/acs"
        self.sls_url = f"{base}/sls"

    def settings_dict(self, want_messages_signed: bool = False) -> dict[str, Any]:
        key = secret_cipher(self.secret_key).decrypt(self.provider.secret_encrypted or b"").decode()
        return {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": self.entity_id,
                "assertionConsumerService": {
                    "url": self.acs_url,
                    "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST,
                },
                "singleLogoutService": {"url": self.sls_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT},
                "NameIDFormat": OneLogin_Saml2_Constants.NAMEID_EMAIL_ADDRESS,
                "x509cert": self.provider.config.get("sp_cert", ""),
                "privateKey": key,
            },
            "idp": self.provider.config.get("idp", {}),
            "security": {**SECURITY, "wantMessagesSigned": want_messages_signed},
        }

    def settings(self, want_messages_signed: bool = False) -> OneLogin_Saml2_Settings:
        return OneLogin_Saml2_Settings(self.settings_dict(want_messages_signed), sp_validation_only=False)

    def metadata(self) -> str:
        settings = self.settings()
        xml = settings.get_sp_metadata()
        errors = settings.validate_metadata(xml)
        if errors:
            raise SsoFailed(f"SP metadata is invalid: {errors}")
        return xml.decode() if isinstance(xml, bytes) else str(xml)

    def request_data(self, get: dict[str, str], post: dict[str, str], path: str) -> dict[str, Any]:
        parts = urlsplit(self.site_url)
        return {
            "https": "on" if parts.scheme == "https" else "off",
            "http_host": parts.netloc,
            "script_name": path,
            "get_data": get,
            "post_data": post,
        }

    def auth(
        self, get: dict[str, str], post: dict[str, str], path: str, want_messages_signed: bool = False
    ) -> OneLogin_Saml2_Auth:
        settings = self.settings(want_messages_signed)
        return OneLogin_Saml2_Auth(self.request_data(get, post, path), old_settings=settings)

    def _pending_key(self, namespace: str, request_id: str) -> str:
        return f"{namespace}:saml:request:{request_id}"

    async def login_url(
        self, redis: Any, namespace: str, relay_state: str, tested_by: str | None = None
    ) -> tuple[str, str]:
        """SP-initiated: a signed AuthnRequest to the IdP, and the token the browser must bring back.

        The request id is remembered (with a hash of the token) to check InResponseTo. With `tested_by`
        (an admin's id) the sign-in is a test: the answer is shown to that admin, nobody is signed in."""
        auth = self.auth({}, {}, f"/auth/sso/{self.provider.id}/login")
        url = str(auth.login(return_to=relay_state))
        browser_token = secrets.token_urlsafe(24)
        record = {**self._owner(), "browser": _digest(browser_token), "tested_by": tested_by}
        await redis.set(
            self._pending_key(namespace, auth.get_last_request_id()), json.dumps(record), ex=REQUEST_SECONDS
        )
        return url, browser_token

    def _owner(self) -> dict[str, str]:
        return {"tenant_id": str(self.provider.tenant_id), "provider_id": str(self.provider.id)}

    async def _check_pending(self, redis: Any, key: str, browser_token: str | None) -> dict[str, Any]:
        """The request was sent here, for this provider, from this browser (nothing is spent yet)."""
        raw = await redis.get(key)
        record = json.loads(raw) if raw else {}
        if {k: record.get(k) for k in ("tenant_id", "provider_id")} != self._owner():
            raise SsoFailed("this SAML response answers no sign-in started here")
        if not browser_token or not secrets.compare_digest(str(record.get("browser")), _digest(browser_token)):
            raise SsoFailed("this sign-in was started in another browser; start again here")
        return dict(record)

    async def consume(
        self, session: AsyncSession, redis: Any, namespace: str, post: dict[str, str], browser_token: str | None
    ) -> tuple[dict[str, list[str]], str, str | None]:
        """Validate a posted SAMLResponse; returns (attributes incl. `nameid`, session index, and the
        admin who started it as a test sign-in, else None)."""
        if "SAMLResponse" not in post:
            raise SsoMalformed("no SAMLResponse in the request")
        document = decode_post_message(post["SAMLResponse"])
        value = document.get("InResponseTo")
        in_response_to = str(value) if value else None
        if in_response_to is None and not self.provider.config.get("allow_idp_initiated", True):
            raise SsoFailed("sign-in must start on this site for this provider (IdP-initiated sign-in is off)")
        pending_key = self._pending_key(namespace, in_response_to) if in_response_to else None
        pending: dict[str, Any] = {}
        if pending_key is not None:
            pending = await self._check_pending(redis, pending_key, browser_token)
        auth = self.auth({}, post, f"/auth/saml/{self.provider.id}/acs")
        try:
            auth.process_response(request_id=in_response_to)
        except (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError) as exc:
            raise SsoFailed(f"SAML response rejected: {exc}") from exc
        if auth.get_errors() or not auth.is_authenticated():
            raise SsoFailed(f"SAML response rejected: {auth.get_last_error_reason() or auth.get_errors()}")
        self._check_exact_urls(document)
        # Only a valid response spends the request it answers.
        if pending_key is not None and await redis.getdel(pending_key) is None:
            raise SsoFailed("this SAML response answers no sign-in started here")
        await self._reject_replay(session, auth)
        attributes: dict[str, list[str]] = {k: list(v) for k, v in auth.get_attributes().items()}
        attributes["nameid"] = [auth.get_nameid()]
        tested_by = pending.get("tested_by")
        return attributes, auth.get_session_index() or "", str(tested_by) if tested_by else None

    def _check_exact_urls(self, document: Any) -> None:
        destination = document.get("Destination")
        if destination is not None and destination != self.acs_url:
            raise SsoFailed(f"SAML response rejected: it was received at {self.acs_url} instead of {destination}")
        for data in document.iter(f"{{{ASSERTION}}}SubjectConfirmationData"):
            recipient = data.get("Recipient")
            if recipient is not None and recipient != self.acs_url:
                raise SsoFailed(f"SAML response rejected: its Recipient {recipient} is not {self.acs_url}")

    def check_logout_message(self, query: dict[str, str]) -> Any:
        """A LogoutRequest or LogoutResponse (HTTP-Redirect) from this provider's IdP, addressed to us.

        Returns the parsed message; the signature is checked afterwards by python3-saml."""
        if self.provider.config.get("idp", {}).get("singleLogoutService", {}).get("url") is None:
            raise SsoMalformed(f"{self.provider.name} has no single logout service in its metadata")
        kinds = [k for k in ("SAMLRequest", "SAMLResponse") if k in query]
        if len(kinds) != 1:
            raise SsoMalformed("send exactly one of SAMLRequest and SAMLResponse")
        if len(query.get("RelayState", "")) > MAX_RELAY_STATE:
            raise SsoMalformed(f"RelayState is longer than {MAX_RELAY_STATE} characters")
        document = decode_redirect_message(query[kinds[0]])
        expected = "LogoutRequest" if kinds[0] == "SAMLRequest" else "LogoutResponse"
        if document.tag != f"{{{PROTOCOL}}}{expected}":
            raise SsoMalformed(f"{kinds[0]} is not a SAML {expected}")
        issuer = document.find(f"{{{ASSERTION}}}Issuer")
        idp_entity = self.provider.config.get("idp", {}).get("entityId")
        if issuer is None or (issuer.text or "").strip() != idp_entity:
            raise SsoFailed(f"the {expected} does not name {self.provider.name}'s IdP as its Issuer")
        if document.get("Destination") != self.sls_url:
            raise SsoFailed(f"the {expected} is not addressed to {self.sls_url}")
        return document

    async def _reject_replay(self, session: AsyncSession, auth: OneLogin_Saml2_Auth) -> None:
        assertion_id = auth.get_last_assertion_id()
        not_on_or_after = auth.get_last_assertion_not_on_or_after()
        expires = (
            datetime.fromtimestamp(int(not_on_or_after), UTC) if not_on_or_after else clock.now() + timedelta(hours=8)
        )
        now = clock.now()
        await session.execute(delete(SamlAssertionSeen).where(SamlAssertionSeen.expires_at < now))
        inserted = await session.execute(
            insert(SamlAssertionSeen)
            .values(
                id=uuid.uuid4(),
                tenant_id=self.provider.tenant_id,
                assertion_id=str(assertion_id),
                expires_at=expires,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "assertion_id"])
            .returning(SamlAssertionSeen.id)
        )
        if inserted.first() is None:
            raise SsoFailed("this SAML assertion was already used")


MAX_RELAY_STATE = 1024


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _parse(xml: bytes, what: str) -> Any:
    try:
        # python3-saml's parser: no DTDs, no entity expansion, no network.
        return OneLogin_Saml2_XML.to_etree(xml)
    except Exception as exc:  # any XML error (syntax, a DTD, entities): the message is unusable
        raise SsoMalformed(f"{what} is not a SAML XML document") from exc


def _base64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SsoMalformed(f"{what} is not valid base64") from exc


def decode_post_message(value: str) -> Any:
    """HTTP-POST binding: base64 XML."""
    raw = _base64("".join(value.split()), "SAMLResponse")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise SsoMalformed("SAMLResponse is too large")
    return _parse(raw, "SAMLResponse")


def decode_redirect_message(value: str) -> Any:
    """HTTP-Redirect binding: base64 of raw DEFLATE of XML, inflated no further than MAX_MESSAGE_BYTES."""
    raw = _base64(value, "the SAML message")
    inflater = zlib.decompressobj(-15)
    try:
        xml = inflater.decompress(raw, MAX_MESSAGE_BYTES)
    except zlib.error as exc:
        raise SsoMalformed("the SAML message is not DEFLATE-compressed") from exc
    if inflater.unconsumed_tail:
        raise SsoMalformed("the SAML message is too large")
    return _parse(xml, "the SAML message")
