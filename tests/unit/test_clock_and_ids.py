"""The shared clock can be moved in tests, and new ids are time-ordered UUIDv7s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lms.certificates.services.storage import download_signature_valid, signed_download_path
from lms.lib import clock
from lms.lib.ids import new_id


def test_the_clock_answers_utc_and_can_be_set_for_a_block() -> None:
    assert clock.now().tzinfo is UTC
    fixed = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with clock.clock_set_to(lambda: fixed):
        assert clock.now() == fixed
        assert clock.timestamp() == fixed.timestamp()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_code_that_reads_the_clock_follows_it() -> None:
    tenant_id, cert_id = new_id(), new_id()
    path = signed_download_path("secret", tenant_id, cert_id)
    expires = int(path.split("expires=")[1].split("&")[0])
    signature = path.split("signature=")[1]
    assert download_signature_valid("secret", tenant_id, cert_id, expires, signature)
    later = clock.now() + timedelta(minutes=10)
    with clock.clock_set_to(lambda: later):
        assert not download_signature_valid("secret", tenant_id, cert_id, expires, signature)


def test_new_ids_are_version_7_and_sort_by_creation() -> None:
    ids = [new_id() for _ in range(50)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
