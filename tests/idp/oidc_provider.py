"""An independent OpenID provider for interoperability tests, built on Authlib's Flask server.

Authorization code flow with PKCE (S256 required), nonce, RS256 ID tokens, JWKS, discovery and
userinfo; people sign in with a username and password form. Runs in a thread on 127.0.0.1.
Clients authenticate as registered (client_secret_basic, client_secret_post or none). `failure`
makes the provider misbehave the way real ones do (garbage instead of JSON, a userinfo that hangs).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.models import ClientMixin
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


@dataclass
class Person:
    sub: str
    password: str
    email: str
    name: str
    groups: list[str] = field(default_factory=list)
    email_verified: bool = True


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    auth_method: str = "client_secret_basic"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "email", "profile", "groups"}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class OpenIDProvider:
    """State of the running provider: registered clients, people, codes and access tokens."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": f"op-{secrets.token_hex(4)}", "use": "sig"})
        self.clients: dict[str, Client] = {}
        self.people: dict[str, Person] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, tuple[Person, str]] = {}
        self.issuer = ""
        self.id_token_overrides: dict[str, Any] = {}
        # None, "token_not_json", "userinfo_not_json" or "userinfo_hangs".
        self.failure: str | None = None
        self.hang_seconds = 3.0

    def add_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str], auth_method: str = "client_secret_basic"
    ) -> None:
        self.clients[client_id] = Client(client_id, client_secret, redirect_uris, auth_method)

    def add_person(self, person: Person) -> None:
        self.people[person.sub] = person


def build_app(op: OpenIDProvider) -> Flask:
    app = Flask("test-openid-provider")
    app.config["OAUTH2_ERROR_URIS"] = []

    class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            op.codes[code] = Code(
                code=code,
                client_id=req.client.client_id,
                redirect_uri=req.payload.redirect_uri,
                scope=req.payload.scope,
                person=req.user,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            item = op.codes.get(code)
            return item if item is not None and item.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            op.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> Person:
            return authorization_code.person

    class OpenIDCodeExtension(OpenIDCode):  # type: ignore[misc]
        def exists_nonce(self, nonce: str, req: Any) -> bool:
            return any(c.nonce == nonce for c in op.codes.values())

        def resolve_client_private_key(self, client: Client) -> Any:
            return op.key

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_encode_header(self, client: Client) -> dict[str, Any]:
            return {"alg": "RS256", "kid": op.key.kid}

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            now = int(time.time())
            claims = {"iss": op.issuer, "aud": [client.client_id], "iat": now, "exp": now + 300}
            claims.update(op.id_token_overrides)
            return claims

        def generate_user_info(self, user: Person, scope: str) -> UserInfo:
            return UserInfo(sub=user.sub, name=user.name, email=user.email, email_verified=user.email_verified)

    def save_token(token: dict[str, Any], req: Any) -> None:
        op.tokens[token["access_token"]] = (req.user, token.get("scope", ""))

    server = AuthorizationServer(app, query_client=op.clients.get, save_token=save_token)
    server.register_grant(
        AuthorizationCodeGrant, [OpenIDCodeExtension(require_nonce=True), CodeChallenge(required=True)]
    )

    @app.get("/.well-known/openid-configuration")
    def configuration() -> Any:
        return jsonify(
            issuer=op.issuer,
            authorization_endpoint=f"{op.issuer}/authorize",
            token_endpoint=f"{op.issuer}/token",
            userinfo_endpoint=f"{op.issuer}/userinfo",
            jwks_uri=f"{op.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(keys=[op.key.as_dict(private=False)])

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        if request.method == "GET":
            return '<form method="post"><input name="username"><input name="password" type="password"></form>'
        person = next((p for p in op.people.values() if p.email == request.form.get("username")), None)
        if person is None or person.password != request.form.get("password"):
            return "wrong username or password", 401
        grant = server.get_consent_grant(end_user=person)
        return server.create_authorization_response(grant_user=person, grant=grant)

    @app.post("/token")
    def token() -> Any:
        if op.failure == "token_not_json":
            return "<html><body>502 Bad Gateway</body></html>", 200, {"Content-Type": "text/html"}
        return server.create_token_response()

    @app.get("/userinfo")
    def userinfo() -> Any:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        found = op.tokens.get(value) if scheme.lower() == "bearer" else None
        if found is None:
            return jsonify(error="invalid_token"), 401
        person, _scope = found
        if op.failure == "userinfo_not_json":
            return "upstream connect error", 200, {"Content-Type": "text/plain"}
        if op.failure == "userinfo_hangs":
            time.sleep(op.hang_seconds)
        return jsonify(
            sub=person.sub,
            email=person.email,
            email_verified=person.email_verified,
            name=person.name,
            groups=person.groups,
        )

    return app


@contextmanager
def running_openid_provider() -> Iterator[OpenIDProvider]:
    op = OpenIDProvider()
    server = make_server("127.0.0.1", 0, build_app(op), threaded=True)
    op.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield op
    finally:
        server.shutdown()
