"""An export's download link works for its tenant and export, for 15 minutes, and not with any byte changed."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

from lms.privacy.services.links import DOWNLOAD_SECONDS, export_signature_valid, signed_export_path

SECRET = "s" * 48
TENANT, OTHER_TENANT, EXPORT = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
NOW = 1_700_000_000.0


def parts(path: str) -> tuple[int, str]:
    query = parse_qs(urlsplit(path).query)
    return int(query["expires"][0]), query["signature"][0]


def valid(expires: int, signature: str, tenant: uuid.UUID = TENANT, export: uuid.UUID = EXPORT) -> bool:
    return export_signature_valid(SECRET, tenant, export, expires, signature)


def test_a_fresh_link_is_valid_until_it_expires() -> None:
    path, expires_at = signed_export_path(SECRET, TENANT, EXPORT, now=NOW)
    expires, signature = parts(path)
    assert path.startswith(f"/admin/privacy/exports/{EXPORT}/download?")
    assert expires == expires_at == int(NOW) + DOWNLOAD_SECONDS
    assert export_signature_valid(SECRET, TENANT, EXPORT, expires, signature) is False  # NOW is in the past
    current, _ = signed_export_path(SECRET, TENANT, EXPORT)
    assert valid(*parts(current))


def test_any_change_makes_the_link_invalid() -> None:
    expires, signature = parts(signed_export_path(SECRET, TENANT, EXPORT)[0])
    flipped = signature[:-1] + ("a" if signature[-1] != "a" else "b")
    assert not valid(expires, flipped)
    assert not valid(expires + 1, signature)
    assert not valid(expires, signature, tenant=OTHER_TENANT)
    assert not valid(expires, signature, export=uuid.uuid4())
    assert not valid(expires, signature[:10])
    assert not export_signature_valid("t" * 48, TENANT, EXPORT, expires, signature)
