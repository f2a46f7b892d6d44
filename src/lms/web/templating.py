"""The Jinja environment of the pages: translations, locale-aware filters, and hashed asset URLs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from litestar.plugins.jinja import JinjaTemplateEngine

from lms.web import i18n
from lms.web.assets import AssetManifest


def _gettext(message: str) -> str:
    return i18n.translations(i18n.current_locale()).gettext(message)


def _ngettext(singular: str, plural: str, count: int) -> str:
    return i18n.translations(i18n.current_locale()).ngettext(singular, plural, count)


def configure_templates(assets: AssetManifest) -> Callable[[JinjaTemplateEngine], None]:
    def configure(engine: JinjaTemplateEngine) -> None:
        environment = engine.engine
        environment.add_extension("jinja2.ext.i18n")
        # New-style gettext: `_("Hello %(name)s", name=...)`, escaped like any other value.
        environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
        # An erased person's stored name is shown in the reader's language: in every `{{ ... }}` output,
        # and in the values `_()` puts into a message (`_("Erase %(name)s?", name=...)`).
        environment.finalize = i18n.shown_name
        _show_names_in_messages(environment.globals)
        environment.globals.update(i18n.template_globals())
        environment.globals["asset_url"] = assets.url
        environment.trim_blocks = True
        environment.lstrip_blocks = True

    return configure


def _show_names_in_messages(globals_: dict[str, Any]) -> None:
    """Wrap the installed new-style `gettext`/`ngettext` so that their variables pass `shown_name`."""
    singular, plural = globals_["gettext"], globals_["ngettext"]

    @pass_context
    def gettext(context: Context, message: str, **variables: Any) -> Any:
        return singular(context, message, **i18n.shown_values(variables))

    @pass_context
    def ngettext(context: Context, one: str, many: str, count: int, **variables: Any) -> Any:
        return plural(context, one, many, count, **i18n.shown_values(variables))

    globals_["gettext"] = globals_["_"] = gettext
    globals_["ngettext"] = ngettext
