"""Identity shapes on the wire; constraints name the offending field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

# The account vocabulary other domains use (roles in guards, statuses in queries).
from lms.identity.models import Role as Role
from lms.identity.models import UserStatus as UserStatus

Email = Annotated[
    str,
    msgspec.Meta(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$", max_length=320, description="an e-mail address"),
]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
GroupName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
OpaqueToken = Annotated[str, msgspec.Meta(min_length=8, max_length=200)]
Roles = Annotated[list[Role], msgspec.Meta(min_length=1, max_length=3)]
# Custom attributes (department = Sales), as an import's `attr:` columns name them: dynamic groups match them.
AttributeName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
AttributeValue = Annotated[str, msgspec.Meta(max_length=200)]
Attributes = Annotated[dict[AttributeName, AttributeValue], msgspec.Meta(max_length=50)]


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    display_name: DisplayName
    roles: Roles = msgspec.field(default_factory=lambda: [Role.LEARNER])
    manager_id: str | None = None
    groups: list[GroupName] = msgspec.field(default_factory=list)
    attributes: Attributes = msgspec.field(default_factory=dict)
    # An invitation e-mail lets the person set a password; off for accounts that only use SSO.
    send_invitation: bool = True


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    display_name: DisplayName | msgspec.UnsetType = msgspec.UNSET
    roles: Roles | msgspec.UnsetType = msgspec.UNSET
    manager_id: str | msgspec.UnsetType | None = msgspec.UNSET
    groups: list[GroupName] | msgspec.UnsetType = msgspec.UNSET
    # The whole set: an attribute left out is removed, an empty value too.
    attributes: Attributes | msgspec.UnsetType = msgspec.UNSET


class UserOut(msgspec.Struct):
    id: str
    email: str
    display_name: str
    status: UserStatus
    roles: list[str]
    manager_id: str | None
    groups: list[str]
    has_password: bool
    created_at: datetime
    last_login_at: datetime | None
    mfa_enabled: bool = False
    external_id: str | None = None
    # Custom attributes from an import or SCIM (department = Sales): what dynamic groups match on.
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    # The person's data was erased: the account stays only for the learning records it holds.
    erased: bool = False


class SignIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    # TOTP code or a recovery code, for accounts with multi-factor sign-in.
    mfa_code: str | None = None


class TokenOut(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


class RefreshIn(msgspec.Struct, forbid_unknown_fields=True):
    # Absent: the lms_refresh cookie is used (browsers).
    refresh_token: OpaqueToken | None = None


class AcceptInvitation(msgspec.Struct, forbid_unknown_fields=True):
    token: OpaqueToken
    password: Password
    display_name: DisplayName | None = None


class PasswordResetRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email


class PasswordResetConfirm(msgspec.Struct, forbid_unknown_fields=True):
    token: OpaqueToken
    password: Password


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password
