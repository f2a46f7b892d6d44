"""Keys derived from SECRET_KEY, one per purpose: nothing secret is stored, and no key serves two uses."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet


def derive_key(secret_key: str, purpose: str) -> bytes:
    """HMAC-SHA256(SECRET_KEY, purpose): 32 bytes that change with either input."""
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def fernet_for(secret_key: str, purpose: str) -> Fernet:
    """A Fernet cipher for data stored encrypted under SECRET_KEY.

    The key is SHA-256(purpose + SECRET_KEY): the construction the stored ciphertexts (TOTP secrets,
    private signing keys) were made with, so it must not change while they exist.
    """
    digest = hashlib.sha256((purpose + secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
