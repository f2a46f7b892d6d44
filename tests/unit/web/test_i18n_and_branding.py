"""Catalogues are complete, locales are chosen in the documented order, brand colours stay readable."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from lms.web import i18n
from lms.web.branding import AA_BODY_TEXT, contrast_ratio, readable_on

TRANSLATED = [locale for locale in i18n.SUPPORTED_LOCALES if locale != i18n.DEFAULT_LOCALE]


def catalogue(locale: str) -> list[tuple[object, object]]:
    path = i18n.LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return [(m.id, m.string) for m in read_po(handle, locale=locale) if m.id]


def template_ids() -> set[object]:
    with (i18n.LOCALES_DIR / "messages.pot").open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_has_a_translation(locale: str) -> None:
    untranslated = [
        msgid for msgid, text in catalogue(locale) if not text or (isinstance(text, tuple | list) and not all(text))
    ]
    assert untranslated == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_extracted_message_is_in_the_catalogue(locale: str) -> None:
    assert template_ids() - {msgid for msgid, _ in catalogue(locale)} == set()


@pytest.mark.parametrize(
    ("user", "accept", "tenant", "expected"),
    [
        ("fr", "de-DE,de;q=0.9", "en", "fr"),  # the user's own setting wins
        (None, "de-CH,de;q=0.9,en;q=0.8", "fr", "de"),  # then the browser
        (None, "es-ES,pt;q=0.9", "fr", "fr"),  # then the tenant's default
        (None, "it", None, "en"),  # then English
        (None, "en;q=0.1, fr;q=0.8", None, "fr"),  # q-values order the browser's languages
        (None, "de;q=0", "de", "de"),  # q=0 means "not this one", but the tenant still may choose it
        (None, "garbage;;q=x,,", None, "en"),
        ("xx", "", None, "en"),  # an unsupported stored value is ignored
    ],
)
def test_locale_order(user: str | None, accept: str, tenant: str | None, expected: str) -> None:
    assert i18n.choose_locale(user, accept, tenant) == expected


def test_pages_translate_and_format_for_the_locale() -> None:
    moment = datetime(2026, 3, 14, 15, 9, tzinfo=UTC)
    with i18n.using_locale("de", "Europe/Berlin"):
        assert i18n.gettext("Sign out") == "Abmelden"
        assert i18n.format_datetime(moment) == "14.03.2026, 16:09:00"
        assert i18n.format_number(1234.5) == "1.234,5"
        assert i18n.format_duration(5400) == "2 Stunden"
    with i18n.using_locale("fr"):
        assert i18n.gettext("Sign out") == "Se déconnecter"
        assert i18n.format_percent(0.425).replace("\u202f", " ").replace("\xa0", " ") == "42 %"
    assert i18n.gettext("Sign out") == "Sign out"


@given(st.from_regex(r"#[0-9a-f]{6}", fullmatch=True))
def test_text_on_any_brand_colour_meets_aa(colour: str) -> None:
    assert contrast_ratio(colour, readable_on(colour)) >= AA_BODY_TEXT


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati"])
def test_a_due_date_chosen_as_a_day_is_that_day_everywhere(zone: str) -> None:
    with i18n.using_locale("de", zone):
        assert i18n.format_due(datetime(2026, 3, 11, 23, 59, 59, tzinfo=UTC)) == "11.03.2026"
        assert i18n.format_due(date(2026, 3, 11)) == "11.03.2026"
        assert i18n.format_due(None) == ""


def test_a_due_moment_falls_on_its_day_in_the_readers_time_zone() -> None:
    moment = datetime(2026, 3, 11, 20, 0, tzinfo=UTC)
    with i18n.using_locale("en", "Asia/Tokyo"):
        assert i18n.format_due(moment) == "Mar 12, 2026"
    with i18n.using_locale("en", "Europe/London"):
        assert i18n.format_due(moment) == "Mar 11, 2026"


def test_a_former_member_is_named_in_the_readers_language() -> None:
    with i18n.using_locale("de"):
        assert i18n.shown_name(i18n.FORMER_MEMBER) == "Ehemaliges Mitglied"
        assert i18n.shown_name("Grace Hopper") == "Grace Hopper"
        assert i18n.gettext("Erase %(name)s?", name=i18n.FORMER_MEMBER) == i18n.gettext(
            "Erase %(name)s?", name="Ehemaliges Mitglied"
        )
    with i18n.using_locale("fr"):
        assert i18n.shown_name(i18n.FORMER_MEMBER) == "Ancien membre"
