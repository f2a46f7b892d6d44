"""Single sign-on configuration on the wire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from lms.identity.models import Role

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Domain = Annotated[
    str, msgspec.Meta(pattern=r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
]
HttpUrl = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s]+$", max_length=2048)]
ClaimName = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class AttributeMapping(msgspec.Struct, forbid_unknown_fields=True):
    """Which IdP attribute/claim carries what; IdP groups listed in group_roles grant LMS roles."""

    email: ClaimName = "email"
    name: ClaimName = "name"
    groups: ClaimName = "groups"
    # The claim/attribute in which the provider says it verified the address.
    email_verified: ClaimName = "email_verified"
    group_roles: dict[str, Role] = msgspec.field(default_factory=dict)
    default_roles: Annotated[list[Role], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: [Role.LEARNER]
    )


class OidcProviderIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    issuer: HttpUrl
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    client_secret: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    scopes: list[str] = msgspec.field(default_factory=lambda: ["openid", "email", "profile"])
    email_domains: list[Domain] = msgspec.field(default_factory=list)
    attribute_mapping: AttributeMapping = msgspec.field(default_factory=AttributeMapping)
    enabled: bool = True
    # How the client authenticates at the token endpoint; `none` is a public client (PKCE only).
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = "client_secret_basic"
    # A first sign-in may take over an existing account with the same, provider-verified address.
    link_by_verified_email: bool = False
    # Treat addresses the provider does not mark verified as verified (a directory the tenant owns).
    trust_unverified_email: bool = False


class SamlProviderIn(msgspec.Struct, forbid_unknown_fields=True):
    """IdP metadata from an XML document or fetched from a URL (one of the two)."""

    name: Name
    metadata_xml: Annotated[str, msgspec.Meta(max_length=1_000_000)] | None = None
    metadata_url: HttpUrl | None = None
    # Unsolicited responses (sign-in started from the IdP's portal); off = only answers to our requests.
    allow_idp_initiated: bool = True
    email_domains: list[Domain] = msgspec.field(default_factory=list)
    attribute_mapping: AttributeMapping = msgspec.field(default_factory=AttributeMapping)
    enabled: bool = True
    link_by_verified_email: bool = False
    # SAML has no standard "verified" flag: map one (`email_verified`) or trust the IdP's addresses.
    trust_unverified_email: bool = False


class SsoSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    # Everyone signs in with single sign-on; passwords stop working (needs an enabled provider).
    required: bool


class SsoSettingsOut(msgspec.Struct):
    required: bool


class RedirectUriOut(msgspec.Struct):
    redirect_uri: str


class ProviderOut(msgspec.Struct):
    id: str
    kind: str
    name: str
    enabled: bool
    email_domains: list[str]
    config: dict[str, Any]
    attribute_mapping: dict[str, Any]
    login_url: str
    # SAML: what to give the IdP.
    sp_metadata_url: str | None = None
    acs_url: str | None = None
    # OIDC: the redirect URI to register at the provider.
    redirect_uri: str | None = None


class Discovery(msgspec.Struct):
    method: str
    provider_id: str | None = None
    provider_name: str | None = None
    login_url: str | None = None
