"""An independent SAML 2.0 identity provider for interoperability tests: pysaml2's IdP `Server`,
signing with a key generated for the test run, served over HTTP on 127.0.0.1 (metadata, SSO, SLO).

Tests also reach the `Server` object directly to forge the malicious responses an attacker would send.
"""

from __future__ import annotations

import base64
import html
import re
import tempfile
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import Flask, request
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256
from werkzeug.serving import make_server

PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class SamlIdentityProvider:
    """The running IdP: people who can sign in, and the pysaml2 server that answers for them."""

    def __init__(self, base_url: str, directory: Path) -> None:
        self.base_url = base_url
        self.key_file, self.cert_file = self_signed(directory, "idp")
        self.people: dict[str, dict[str, Any]] = {}
        self.config = self._config(lifetime_minutes=15)
        self.server = Server(config=self.config)
        self.logout_requests: list[str] = []

    def _config(self, lifetime_minutes: int) -> IdPConfig:
        config = IdPConfig()
        config.load(
            {
                "entityid": f"{self.base_url}/metadata",
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(f"{self.base_url}/sso", BINDING_HTTP_REDIRECT)],
                            "single_logout_service": [(f"{self.base_url}/slo", BINDING_HTTP_REDIRECT)],
                        },
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": lifetime_minutes},
                                "attribute_restrictions": None,
                                "name_form": NAME_FORMAT_BASIC,
                            }
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "want_authn_requests_signed": False,
                    }
                },
                "key_file": str(self.key_file),
                "cert_file": str(self.cert_file),
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "metadata": {},
                "allow_unknown_attributes": True,
            }
        )
        return config

    def metadata(self) -> str:
        return create_metadata_string(None, config=self.config, valid=48).decode()

    def trust_sp(self, sp_metadata: str) -> None:
        self.server.metadata.load("inline", sp_metadata)

    def add_person(self, email: str, password: str, name: str, groups: list[str] | None = None) -> None:
        self.people[email] = {"password": password, "name": name, "groups": groups or []}

    def response(
        self,
        email: str,
        in_response_to: str | None,
        destination: str,
        audience: str,
        sign_assertion: bool = True,
        lifetime_minutes: int | None = None,
        sha1: bool = False,
    ) -> str:
        """A base64 SAMLResponse for `email`, as this IdP would post it."""
        person = self.people[email]
        server = self.server
        if lifetime_minutes is not None:
            server = Server(config=self._config(lifetime_minutes))
            server.metadata = self.server.metadata
        xml = server.create_authn_response(
            identity={"email": [email], "displayName": [person["name"]], "groups": person["groups"]},
            in_response_to=in_response_to,
            destination=destination,
            sp_entity_id=audience,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_assertion=sign_assertion,
            sign_response=False,
            sign_alg=SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA1 if sha1 else DIGEST_SHA256,
        )
        return base64.b64encode(str(xml).encode()).decode()

    def authn_request(self, query: dict[str, str]) -> Any:
        return self.server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT).message


def build_app(idp: SamlIdentityProvider) -> Flask:
    app = Flask("test-saml-idp")

    @app.get("/metadata")
    def metadata() -> Any:
        return idp.metadata(), 200, {"Content-Type": "application/samlmetadata+xml"}

    @app.route("/sso", methods=["GET", "POST"])
    def sso() -> Any:
        if request.method == "GET":
            return "<form method=post><input name=username><input name=password type=password></form>"
        person = idp.people.get(request.form.get("username", ""))
        if person is None or person["password"] != request.form.get("password"):
            return "wrong username or password", 401
        authn = idp.authn_request(dict(request.args))
        saml_response = idp.response(
            request.form["username"], authn.id, authn.assertion_consumer_service_url, authn.issuer.text
        )
        relay = html.escape(request.args.get("RelayState", ""), quote=True)
        acs = html.escape(authn.assertion_consumer_service_url, quote=True)
        return (
            f'<form method="post" action="{acs}"><input type="hidden" name="SAMLResponse" value="{saml_response}">'
            f'<input type="hidden" name="RelayState" value="{relay}"></form>'
        )

    @app.get("/slo")
    def slo() -> Any:
        idp.logout_requests.append(request.args.get("SAMLRequest", ""))
        return "signed out"

    return app


def hidden_fields(page: str) -> dict[str, str]:
    """The auto-post form an IdP returns: action and hidden inputs."""
    fields = {m.group(1): html.unescape(m.group(2)) for m in re.finditer(r'name="(\w+)" value="([^"]*)"', page)}
    action = re.search(r'action="([^"]+)"', page)
    assert action is not None
    fields["_action"] = html.unescape(action.group(1))
    return fields


@contextmanager
def running_saml_idp() -> Iterator[SamlIdentityProvider]:
    with tempfile.TemporaryDirectory(prefix="lms-saml-idp-") as directory:
        holder: dict[str, SamlIdentityProvider] = {}
        flask_app = Flask("placeholder")
        server = make_server("127.0.0.1", 0, flask_app, threaded=True)
        idp = SamlIdentityProvider(f"http://127.0.0.1:{server.server_port}", Path(directory))
        holder["idp"] = idp
        server.app = build_app(idp)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield idp
        finally:
            server.shutdown()


__all__ = ["BINDING_HTTP_POST", "SamlIdentityProvider", "hidden_fields", "running_saml_idp"]


def idp_logout_request_url(
    idp: SamlIdentityProvider,
    sls_url: str,
    sp_entity_id: str,
    email: str,
    destination: str | None = None,
    relay_state: str | None = None,
) -> str:
    """An IdP-initiated LogoutRequest for `email`, signed for the HTTP-Redirect binding and sent to `sls_url`.

    `destination` (default `sls_url`) is what the message itself says it is addressed to."""
    _, request_message = idp.server.create_logout_request(
        destination=destination or sls_url,
        issuer_entity_id=sp_entity_id,
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
        sign=False,
    )
    binding = idp.server.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(request_message),
        destination=sls_url,
        relay_state=relay_state or "",
        sign=True,
        sigalg=SIG_RSA_SHA256,
    )
    return str(dict(binding["headers"])["Location"])


def deflate_and_encode(xml: bytes) -> str:
    """The HTTP-Redirect binding's encoding: raw DEFLATE, then base64."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml) + compressor.flush()).decode()


def forged_logout_request(email: str, issuer: str | None = None, destination: str | None = None) -> str:
    """An unsigned LogoutRequest, as anyone could write it (encoded for the HTTP-Redirect binding)."""
    destination_attribute = f' Destination="{html.escape(destination)}"' if destination else ""
    issuer_element = f"<saml:Issuer>{html.escape(issuer)}</saml:Issuer>" if issuer else ""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        f'<samlp:LogoutRequest xmlns:samlp="{PROTOCOL}" xmlns:saml="{ASSERTION}" ID="_forged{uuid.uuid4().hex}" '
        f'Version="2.0" IssueInstant="{now}"{destination_attribute}>{issuer_element}'
        f'<saml:NameID Format="{NAMEID_FORMAT_EMAILADDRESS}">{html.escape(email)}</saml:NameID>'
        "</samlp:LogoutRequest>"
    )
    return deflate_and_encode(xml.encode())


DTD_XML = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY boom "boom">]>'
    b'<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&boom;</samlp:LogoutRequest>'
)


def malformed_redirect_messages() -> dict[str, str]:
    """SAMLRequest / SAMLResponse values for the HTTP-Redirect binding that no IdP would send."""
    return {
        "bad base64": "%%%not-base64!!!",
        "not DEFLATE": base64.b64encode(b"<samlp:LogoutRequest/>").decode(),
        "not XML": deflate_and_encode(b"this is not XML at all"),
        "with a DTD": deflate_and_encode(DTD_XML),
        "not a logout message": deflate_and_encode(b'<r xmlns="urn:example"/>'),
        "DEFLATE bomb": deflate_and_encode(b"<" + b"a" * 20_000_000 + b"/>"),
    }


def malformed_post_messages() -> dict[str, str]:
    """SAMLResponse values for the HTTP-POST binding that no IdP would send."""
    return {
        "bad base64": "%%%not-base64!!!",
        "not XML": base64.b64encode(b"this is not XML at all").decode(),
        "with a DTD": base64.b64encode(DTD_XML).decode(),
        "DEFLATE where base64 XML belongs": deflate_and_encode(b"<samlp:Response/>"),
    }


def with_response_destination(saml_response: str, destination: str) -> str:
    """The same response with another Destination on the (unsigned) Response element."""
    document = etree.fromstring(base64.b64decode(saml_response))
    document.set("Destination", destination)
    return base64.b64encode(etree.tostring(document)).decode()


def metadata_without_single_logout(metadata: str) -> str:
    document = etree.fromstring(metadata.encode())
    for element in document.iter("{urn:oasis:names:tc:SAML:2.0:metadata}SingleLogoutService"):
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)
    return etree.tostring(document).decode()
