"""The Jinja environment of the pages: translations, locale-aware filters, and hashed asset URLs."""

from __future__ import annotations

from collections.abc import Callable

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
        environment.globals.update(i18n.template_globals())
        environment.globals["asset_url"] = assets.url
        environment.trim_blocks = True
        environment.lstrip_blocks = True

    return configure
