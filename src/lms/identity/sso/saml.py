"""SAML 2.0 service provider (python3-saml), one per configured provider of a tenant.

Strict mode; assertions must be signed; SHA-256 for our signatures; deprecated algorithms (SHA-1)
are rejected; an assertion id is accepted once (kept until the assertion expires); a response that
answers a request must answer one we sent for this tenant and provider (kept in Redis for 10 minutes);
a response without InResponseTo is an IdP-initiated sign-in.
"""

from __future__ import annotations

import json
import uuid
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
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import SamlAssertionSeen, SsoProvider
from lms.identity.sso.provisioning import SsoFailed, secret_cipher
from lms.lib.errors import ValidationFailed

REQUEST_SECONDS = 600
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
    now = datetime.now(UTC)
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

    def settings_dict(self) -> dict[str, Any]:
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
            "security": SECURITY,
        }

    def settings(self) -> OneLogin_Saml2_Settings:
        return OneLogin_Saml2_Settings(self.settings_dict(), sp_validation_only=False)

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

    def auth(self, get: dict[str, str], post: dict[str, str], path: str) -> OneLogin_Saml2_Auth:
        return OneLogin_Saml2_Auth(self.request_data(get, post, path), old_settings=self.settings())

    def _pending_key(self, namespace: str, request_id: str) -> str:
        return f"{namespace}:saml:request:{request_id}"

    async def login_url(self, redis: Any, namespace: str, relay_state: str) -> str:
        """SP-initiated: a signed AuthnRequest to the IdP; its id is remembered to check InResponseTo."""
        auth = self.auth({}, {}, f"/auth/sso/{self.provider.id}/login")
        url = str(auth.login(return_to=relay_state))
        record = {"tenant_id": str(self.provider.tenant_id), "provider_id": str(self.provider.id)}
        await redis.set(
            self._pending_key(namespace, auth.get_last_request_id()), json.dumps(record), ex=REQUEST_SECONDS
        )
        return url

    async def consume(
        self, session: AsyncSession, redis: Any, namespace: str, post: dict[str, str]
    ) -> tuple[dict[str, list[str]], str]:
        """Validate a posted SAMLResponse; returns (attributes incl. `nameid`, session index)."""
        if "SAMLResponse" not in post:
            raise SsoFailed("no SAMLResponse in the request")
        in_response_to = self._in_response_to(post)
        if in_response_to is None and not self.provider.config.get("allow_idp_initiated", True):
            raise SsoFailed("sign-in must start on this site for this provider (IdP-initiated sign-in is off)")
        if in_response_to is not None:
            raw = await redis.getdel(self._pending_key(namespace, in_response_to))
            record = json.loads(raw) if raw else None
            if record != {"tenant_id": str(self.provider.tenant_id), "provider_id": str(self.provider.id)}:
                raise SsoFailed("this SAML response answers no sign-in started here")
        auth = self.auth({}, post, f"/auth/saml/{self.provider.id}/acs")
        try:
            auth.process_response(request_id=in_response_to)
        except (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError) as exc:
            raise SsoFailed(f"SAML response rejected: {exc}") from exc
        if auth.get_errors() or not auth.is_authenticated():
            raise SsoFailed(f"SAML response rejected: {auth.get_last_error_reason() or auth.get_errors()}")
        await self._reject_replay(session, auth)
        attributes: dict[str, list[str]] = {k: list(v) for k, v in auth.get_attributes().items()}
        attributes["nameid"] = [auth.get_nameid()]
        return attributes, auth.get_session_index() or ""

    def _in_response_to(self, post: dict[str, str]) -> str | None:
        try:
            # python3-saml's parser: no DTDs, no entity expansion, no network.
            document = OneLogin_Saml2_XML.to_etree(OneLogin_Saml2_Utils.b64decode(post["SAMLResponse"]))
        except Exception as exc:  # any decoding or XML error: the response is unusable
            raise SsoFailed("the SAML response cannot be decoded") from exc
        value = document.get("InResponseTo")
        return str(value) if value else None

    async def _reject_replay(self, session: AsyncSession, auth: OneLogin_Saml2_Auth) -> None:
        assertion_id = auth.get_last_assertion_id()
        not_on_or_after = auth.get_last_assertion_not_on_or_after()
        expires = (
            datetime.fromtimestamp(int(not_on_or_after), UTC)
            if not_on_or_after
            else datetime.now(UTC) + timedelta(hours=8)
        )
        now = datetime.now(UTC)
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
