"""Host normalisation decides which tenant a request reaches."""

import pytest

from lms.tenancy.services.resolver import normalise_host


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme.Example.COM", "acme.example.com"),
        ("acme.example.com:8443", "acme.example.com"),
        ("acme.example.com.", "acme.example.com"),
        ("[::1]:8000", "[::1]"),
        ("  demo.localhost:8000 ", "demo.localhost"),
    ],
)
def test_normalise_host(raw: str, expected: str) -> None:
    assert normalise_host(raw) == expected
