"""User-facing texts by message key, from the gettext catalogues in :mod:`bot.locales`.

Each text says what went wrong and what to do next. Adapters call :func:`render`
with the user's locale (a platform tag such as ``pt-br`` or ``zh-TW``, or a
catalogue code); an unknown locale, or a text a catalogue lacks, is English.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from bot import locales
from bot.errors import RedrawError
from bot.locales import normalize_locale

__all__ = [
    "MESSAGES",
    "PLURAL_COUNTS",
    "SUPPORTED_LOCALES",
    "Locale",
    "fill",
    "normalize_locale",
    "render",
    "render_error",
]

Locale = str

# The messages with plural forms, and the parameter whose number picks the form.
PLURAL_COUNTS: Mapping[str, str] = {
    "prompt_too_long": "length",
    "too_many_images": "count",
    "history": "count",
    "variations_partial": "failed",
    "rate_limited": "seconds",
}

# Unicode's first-strong isolate and its end: an inserted value keeps its own direction.
FSI, PDI = "\u2068", "\u2069"
# A command as typed (/draw, /{command}): left to right inside a right-to-left text.
_COMMAND = re.compile(r"(?<![\w/])/(?:[A-Za-z_]+|\{\w+\})")


def _english(key: str) -> str:
    english = locales.translations("redraw", locales.ENGLISH)
    assert english is not None
    return english.ngettext(key, key, 1) if key in PLURAL_COUNTS else english.gettext(key)


# Every key English has → its English text (the singular, for plural messages).
MESSAGES: Mapping[str, str] = {key: _english(key) for key in sorted(locales.message_ids("redraw"))}
# The shipped languages' catalogue codes, English first.
SUPPORTED_LOCALES: tuple[Locale, ...] = tuple(locales.languages())


def _count(value: Any) -> int:
    try:
        return abs(int(float(value)))
    except (TypeError, ValueError):
        return 2


def template(domain: str, key: str, code: str, params: Mapping[str, Any]) -> str | None:
    """The catalogue text of ``key`` in language ``code``, its plural form picked by the
    count; None when the language has no catalogue of ``domain``."""
    catalogue = locales.translations(domain, code)
    if catalogue is None:
        return None
    count_name = PLURAL_COUNTS.get(key)
    if count_name is None:
        return catalogue.gettext(key)
    return catalogue.ngettext(key, key, _count(params.get(count_name)))


def is_rtl(code: str) -> bool:
    language = locales.languages().get(code)
    return language is not None and language.rtl


def fill(text: str, code: str, params: Mapping[str, Any]) -> str:
    """Put ``params`` into ``text``; a missing one shows as empty rather than crashing an
    error path. In a right-to-left language each value, and each /command, is isolated
    (FSI … PDI) so that numbers, sizes, commands and prompts keep their own direction."""
    rtl = is_rtl(code)
    if rtl:
        text = _COMMAND.sub(lambda found: f"{FSI}{found.group(0)}{PDI}", text)
    names = {field for _, field, _, _ in string.Formatter().parse(text) if field}
    values = {name: params.get(name, "") for name in names}
    if rtl:
        values = {name: f"{FSI}{value}{PDI}" for name, value in values.items()}
    return text.format(**values)


def render(key: str, locale: str | None = None, **params: Any) -> str:
    if key not in MESSAGES:
        key = "internal_error"
    code = normalize_locale(locale)
    text = template("redraw", key, code, params)
    assert text is not None
    return fill(text, code, params)


def render_worded(key: str, wording: str | None, locale: str | None = None, **params: Any) -> str:
    """``key``'s text, or an adapter's own wording of it (``help_discord``: slash commands)."""
    own = f"{key}_{wording}" if wording else ""
    return render(own if own in MESSAGES else key, locale, **params)


def render_error(error: RedrawError, locale: str | None = None) -> str:
    return render(error.message_key, locale, **error.params)
