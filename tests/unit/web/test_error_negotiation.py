"""One content negotiation for errors, and error texts a person can act on in every language."""

from __future__ import annotations

import pytest

from lms.web import i18n
from lms.web.errors import explanation, wants_html

CHROME = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize(
    ("path", "accept", "html"),
    [
        ("/account", CHROME, True),
        ("/verify/abc", CHROME, True),
        ("/auth/oidc/x/callback", CHROME, True),
        ("/api/v1/me", CHROME, False),  # the API always answers JSON
        ("/account", "application/json", False),
        ("/account", "application/json, text/html;q=0.5", False),
        ("/account", "*/*", False),  # scripts and tools
        ("/account", "", False),
    ],
)
def test_browsers_get_pages_and_everyone_else_json(path: str, accept: str, html: bool) -> None:
    assert wants_html(path, accept) is html


STATUSES = [401, 403, 404, 405, 409, 413, 429, 500, 503, 418]


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("locale", ["de", "fr"])
def test_every_error_is_explained_in_the_page_language(status: int, locale: str) -> None:
    english = explanation(status, "")
    with i18n.using_locale(locale):
        translated = explanation(status, "")
    assert all(translated)
    assert translated[0] != english[0]
    assert translated[1] != english[1]


def test_suspended_and_unknown_sites_have_their_own_words() -> None:
    assert explanation(403, "tenant_suspended")[0] == "This site is suspended"
    assert explanation(404, "no_site")[0] == "No learning site here"
    assert explanation(429, "")[0] == "Too many attempts"
