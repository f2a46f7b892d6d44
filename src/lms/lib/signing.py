"""Short-lived signed links (media delivery, certificate downloads), keyed per purpose from SECRET_KEY.

A token is `<expiry unix seconds>.<hex HMAC-SHA256>` over a scope string; changing any byte of the
scope, the expiry or the signature makes it invalid.
"""

from __future__ import annotations

import hashlib
import hmac

from lms.lib import clock
from lms.lib.keys import derive_key


def link_key(secret_key: str, purpose: str) -> bytes:
    """A key per purpose, so a signature made for one use is never valid for another."""
    return derive_key(secret_key, f"lms-signing:{purpose}")


def sign(key: bytes, scope: str, expires_at: int) -> str:
    mac = hmac.new(key, f"{expires_at}\n{scope}".encode(), hashlib.sha256).hexdigest()
    return f"{expires_at}.{mac}"


def verify(key: bytes, scope: str, token: str, now: float | None = None) -> bool:
    """True when `token` was made by `sign(key, scope, ...)` and has not expired."""
    expiry_text, _, mac = token.partition(".")
    if not expiry_text.isdigit() or len(mac) != 64:
        return False
    expires_at = int(expiry_text)
    expected = sign(key, scope, expires_at).partition(".")[2]
    if not hmac.compare_digest(expected, mac):
        return False
    return expires_at > (clock.timestamp() if now is None else now)
