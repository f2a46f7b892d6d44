"""Certificate signatures (versioned HMAC-SHA256) and per-tenant Ed25519 keys for verifiable credentials.

Both are derived from SECRET_KEY and a version number, so nothing secret is stored in the database:
rotating means raising the version for new certificates while every older version keeps verifying.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lms.lib.keys import derive_key

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Multicodec prefix of an Ed25519 public key (0xed, varint-encoded), as used by Multikey.
_ED25519_PUB_PREFIX = b"\xed\x01"


def signing_payload(cert_id: UUID, user_id: UUID, course_id: UUID, issued_at: datetime) -> bytes:
    stamp = issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{cert_id}|{user_id}|{course_id}|{stamp}".encode()


def sign_certificate(
    secret_key: str, version: int, cert_id: UUID, user_id: UUID, course_id: UUID, issued_at: datetime
) -> str:
    """HMAC-SHA256(cert_id|user|course|issued_at) under the certificate key of `version`, hex."""
    key = derive_key(secret_key, f"certificate-signature:v{version}")
    return hmac.new(key, signing_payload(cert_id, user_id, course_id, issued_at), hashlib.sha256).hexdigest()


def certificate_signature_valid(
    secret_key: str,
    version: int,
    signature: str,
    cert_id: UUID,
    user_id: UUID,
    course_id: UUID,
    issued_at: datetime,
) -> bool:
    if version < 1:
        return False
    expected = sign_certificate(secret_key, version, cert_id, user_id, course_id, issued_at)
    return hmac.compare_digest(expected, signature)


def credential_private_key(secret_key: str, tenant_id: UUID, version: int) -> Ed25519PrivateKey:
    """The tenant's Ed25519 credential key of `version` (the seed is derived, never stored)."""
    return Ed25519PrivateKey.from_private_bytes(derive_key(secret_key, f"credential-ed25519:{tenant_id}:v{version}"))


def base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    encoded = ""
    while number:
        number, remainder = divmod(number, 58)
        encoded = _B58[remainder] + encoded
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + encoded


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise ValueError("not base58btc")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    leading_ones = len(text) - len(text.lstrip("1"))
    return b"\0" * leading_ones + body


def multibase(data: bytes) -> str:
    """Multibase base58btc ("z" prefix), the encoding of Multikey keys and eddsa proof values."""
    return "z" + base58btc(data)


def multibase_decode(text: str) -> bytes:
    if not text.startswith("z"):
        raise ValueError("only base58btc multibase values are accepted")
    return base58btc_decode(text[1:])


def public_key_multibase(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return multibase(_ED25519_PUB_PREFIX + raw)


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    raw = multibase_decode(value)
    if not raw.startswith(_ED25519_PUB_PREFIX) or len(raw) != 34:
        raise ValueError("not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(raw[2:])
