"""Languages of the pages: message catalogues, the request's locale, and locale-aware formatting.

Catalogues are `.po` files under `lms/web/locales/<lang>/LC_MESSAGES/messages.po`, compiled in memory
when first used, so a fresh checkout never depends on a separate compile step. The locale of a request
comes from the user's own setting, then the browser's `Accept-Language`, then the tenant's default.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LOCALE = "en"
# Every language here has a complete catalogue (a test keeps it so).
SUPPORTED_LOCALES = ("en", "de", "fr")
RIGHT_TO_LEFT = frozenset({"ar", "he", "fa", "ur"})


@dataclass
class _Setting:
    """The language and time zone pages render in; one object per request (see `begin_request`)."""

    locale: str = DEFAULT_LOCALE
    zone: str = "UTC"


_DEFAULT_SETTING = _Setting()
_setting: ContextVar[_Setting] = ContextVar("page_setting")


def _current() -> _Setting:
    return _setting.get(_DEFAULT_SETTING)


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of `locale` (English is the source language and has none)."""
    source = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not source.exists():
        return NullTranslations()
    with source.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def negotiate(accept_language: str) -> str | None:
    """The best supported language for an `Accept-Language` header, honouring q-values."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().replace("_", "-").lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-", 1)[0]
        if primary in SUPPORTED_LOCALES:
            return primary
    return None


def choose_locale(user_locale: str | None, accept_language: str, tenant_locale: str | None) -> str:
    """The user's setting, then the browser's languages, then the tenant's default, then English."""
    for candidate in (user_locale, negotiate(accept_language), tenant_locale):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    return DEFAULT_LOCALE


def valid_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@contextmanager
def using_locale(locale: str, time_zone: str = "UTC") -> Iterator[None]:
    """Render (and format) in `locale` and `time_zone` within the block."""
    token = _setting.set(_Setting(locale, time_zone))
    try:
        yield
    finally:
        _setting.reset(token)


def begin_request() -> None:
    """Give this request its own setting, in the English default until `activate` says otherwise."""
    _setting.set(_Setting())


def activate(locale: str, time_zone: str = "UTC") -> None:
    """Set the page locale for the rest of this request (templates render after the handler returns).
    The request's setting changes in place, so a dependency that runs in a task of its own (Litestar
    resolves sibling dependencies concurrently) sets it for the handler too."""
    setting = _setting.get(None)
    if setting is None or setting is _DEFAULT_SETTING:
        _setting.set(_Setting(locale, time_zone))
    else:
        setting.locale, setting.zone = locale, time_zone


def current_locale() -> str:
    return _current().locale


# What an erased person is called wherever their name was stored (their account, certificates, the
# audit log). It is stored as this catalogue message id, never as a translation, and shown in each
# reader's language by `shown_name`, which every template output and message parameter goes through.
FORMER_MEMBER = "Former member"


def shown_name(value: Any) -> Any:
    """`value` as a page shows it: the stored name of an erased person in the reader's language,
    anything else unchanged."""
    if isinstance(value, str) and value == FORMER_MEMBER:
        return translations(_current().locale).gettext(FORMER_MEMBER)
    return value


def shown_values(variables: dict[str, Any]) -> dict[str, Any]:
    return {key: shown_name(value) for key, value in variables.items()}


def gettext(message: str, **variables: Any) -> str:
    text = translations(_current().locale).gettext(message)
    return text % shown_values(variables) if variables else text


def ngettext(singular: str, plural: str, count: int, **variables: Any) -> str:
    text = translations(_current().locale).ngettext(singular, plural, count)
    return text % {"num": count, **shown_values(variables)}


def text_direction(locale: str) -> str:
    return "rtl" if locale.split("-", 1)[0] in RIGHT_TO_LEFT else "ltr"


def _babel_locale() -> Locale:
    try:
        return Locale.parse(_current().locale)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def format_datetime(value: datetime | None, form: str = "medium") -> str:
    """A date and time in the page's locale and the user's time zone."""
    if value is None:
        return ""
    return dates.format_datetime(value, form, tzinfo=ZoneInfo(_current().zone), locale=_babel_locale())


def format_date(value: datetime | date | None, form: str = "medium") -> str:
    """A day in the page's locale; a moment is first placed in the user's time zone."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        # A calendar day (a seat snapshot's) has no time zone to convert.
        return dates.format_date(value, form, locale=_babel_locale())
    local = value.astimezone(ZoneInfo(_current().zone))
    return dates.format_date(local.date(), form, locale=_babel_locale())


def ends_a_day(moment: datetime) -> bool:
    """A due date chosen as a day is stored as the last second of that day in UTC."""
    at_utc = moment.astimezone(UTC)
    return (at_utc.hour, at_utc.minute, at_utc.second) == (23, 59, 59)


def due_day(value: datetime | date) -> date:
    """The day something is due, as people read it. A due date chosen as a day (see `ends_a_day`) is
    that day wherever the reader is (placing it in a time zone east of UTC would show the next day);
    any other moment falls on its day in the reader's time zone."""
    if not isinstance(value, datetime):
        return value
    if ends_a_day(value):
        return value.astimezone(UTC).date()
    return value.astimezone(ZoneInfo(_current().zone)).date()


def format_due(value: datetime | date | None, form: str = "medium") -> str:
    """A due date (of an enrolment, an assignment to a course) as a day in the page's locale: people
    are due on a day, not at 11:59:59 PM."""
    if value is None:
        return ""
    return dates.format_date(due_day(value), form, locale=_babel_locale())


def format_number(value: float | int) -> str:
    return numbers.format_decimal(value, locale=_babel_locale())


def format_percent(value: float) -> str:
    """`value` is a fraction (0.42 -> 42 %)."""
    return numbers.format_percent(value, locale=_babel_locale())


def format_duration(seconds: float | int) -> str:
    """A rounded, human duration: "5 minutes", "2 hours", in the page's language."""
    return dates.format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=_babel_locale())


def format_money(cents: int, currency: str) -> str:
    """An amount with its currency, for the locale: "€49.00", "49,00 €"."""
    return numbers.format_currency(cents / 100, currency.upper(), locale=_babel_locale())


def format_relative(moment: datetime | None) -> str:
    """Relative wording from now: "in 3 days", "2 hours ago"."""
    if moment is None:
        return ""
    delta = moment - datetime.now(moment.tzinfo)
    return dates.format_timedelta(delta, add_direction=True, threshold=1.5, locale=_babel_locale())


def language_name(locale: str) -> str:
    """A language's own name ("Deutsch", "français"), for the language picker."""
    name = Locale.parse(locale).get_display_name(locale) or locale
    return name[:1].upper() + name[1:]


def template_globals() -> dict[str, Any]:
    return {
        "format_datetime": format_datetime,
        "format_date": format_date,
        "format_due": format_due,
        "format_day": format_day,
        "format_number": format_number,
        "format_percent": format_percent,
        "format_duration": format_duration,
        "format_money": format_money,
        "format_relative": format_relative,
        "language_name": language_name,
        "supported_locales": SUPPORTED_LOCALES,
    }


def format_day(value: date) -> str:
    """A calendar day (no time zone: a day of a daily rollup), in the page's locale."""
    return dates.format_date(value, "medium", locale=_babel_locale())
