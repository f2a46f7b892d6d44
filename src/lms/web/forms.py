"""Plain HTML form posts: reading fields safely, checking the CSRF field, and field errors."""

from __future__ import annotations

import hmac

from lms.identity.guards import CSRF_COOKIE
from lms.lib.errors import DomainError
from lms.lib.params import AppRequest
from lms.web.i18n import gettext as _
from lms.web.layout import CSRF_FIELD


class FormErrors(dict[str, str]):
    """Field name -> message, in the order the fields appear; rendered as a summary and inline."""


class FormData:
    """The fields of a submitted form, read with a length limit; NUL bytes and over-long values are
    recorded as field errors instead of reaching the database."""

    def __init__(self, fields: dict[str, str], errors: FormErrors) -> None:
        self.fields = fields
        self.errors = errors

    @classmethod
    async def read(cls, request: AppRequest) -> FormData:
        form = await request.form()
        return cls({key: str(value) for key, value in form.items() if isinstance(value, str)}, FormErrors())

    def text(self, name: str, max_length: int, *, required: str = "", strip: bool = True) -> str:
        value = self.fields.get(name, "")
        value = value.strip() if strip else value
        if "\x00" in value:
            self.errors[name] = _("This field contains a character that is not allowed.")
            return ""
        if len(value) > max_length:
            self.errors[name] = _("Enter at most %(count)s characters.", count=max_length)
            return ""
        if required and not value:
            self.errors[name] = required
        return value

    def csrf_valid(self, request: AppRequest) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE) or ""
        submitted = self.fields.get(CSRF_FIELD, "")
        return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie, submitted)


def service_message(exc: DomainError) -> str:
    """A service's message as a sentence in the page's language (lms.web.service_messages lists
    the ones users meet, so that the catalogues translate them)."""
    sentence = exc.message[:1].upper() + exc.message[1:]
    if not sentence.endswith("."):
        sentence += "."
    return _(sentence)


def expired_form_message() -> str:
    return _("This form has expired. Please try again.")
