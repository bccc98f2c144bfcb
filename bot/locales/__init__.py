"""The gettext catalogues: one folder per language, ``<code>/LC_MESSAGES/<domain>.po``
(the source) and its compiled ``.mo`` (what is read at run time).

Domains: ``redraw`` holds every text a chat sees (replies, buttons, the Telegram
command menu, the Discord command localizations); ``cli`` the ``redraw`` command's
own wording of a few of them. Message ids are the message keys (``prompt_empty``);
``en`` holds the English. A language is shipped when its ``redraw.mo`` is here: a
new language is a file, not code (``python -m bot.locales`` compiles them). Each
catalogue names its language (``language_name``, in itself) and its direction
(``language_direction``: ``ltr`` or ``rtl``).
"""

from __future__ import annotations

import functools
import gettext
from dataclasses import dataclass
from pathlib import Path

LOCALES_DIR = Path(__file__).parent
DOMAINS = ("redraw", "cli")
ENGLISH = "en"


@dataclass(frozen=True)
class Language:
    code: str  # the catalogue's folder: "de", "pt_BR", "zh_Hant"
    tag: str  # what users type and read: "de", "pt-BR", "zh-Hant"
    native: str  # "Deutsch"
    rtl: bool

    @property
    def telegram_code(self) -> str:
        """Telegram's command menus take a bare ISO 639-1 code."""
        return self.code.split("_", 1)[0]


def _language(code: str) -> Language:
    """From the catalogue itself (``language_name``, ``language_direction``): Babel's locale
    data, which they were made from, is 20 MB in memory once loaded for every language.
    Read once and let go: a catalogue is kept only while its language is in use."""
    catalogue = _load("redraw", code)
    assert catalogue is not None
    return Language(
        code,
        code.replace("_", "-"),
        catalogue.gettext("language_name"),
        catalogue.gettext("language_direction") == "rtl",
    )


@functools.cache
def languages() -> dict[str, Language]:
    """Every shipped language by catalogue code, English first."""
    codes = sorted(path.parent.parent.name for path in LOCALES_DIR.glob("*/LC_MESSAGES/redraw.mo"))
    codes.sort(key=lambda code: code != ENGLISH)
    return {code: _language(code) for code in codes}


# English (every catalogue's fallback) and the few languages in use stay parsed; the 17
# catalogues at once would be ~1.3 MB, and a rarely used one is re-read in well under 1 ms.
RECENT_CATALOGUES = 8


@functools.lru_cache(maxsize=RECENT_CATALOGUES)
def translations(domain: str, code: str) -> gettext.NullTranslations | None:
    """``code``'s catalogue of ``domain``, falling back to English for anything it lacks;
    None when the language has no catalogue of that domain."""
    if code == ENGLISH:
        return _english(domain)
    catalogue = _load(domain, code)
    if catalogue is not None:
        english = _english(domain)
        if english is not None:
            catalogue.add_fallback(english)
    return catalogue


@functools.cache
def _english(domain: str) -> gettext.GNUTranslations | None:
    return _load(domain, ENGLISH)


def _load(domain: str, code: str) -> gettext.GNUTranslations | None:
    path = LOCALES_DIR / code / "LC_MESSAGES" / f"{domain}.mo"
    if not path.is_file():
        return None
    with path.open("rb") as file:
        return gettext.GNUTranslations(file)


def message_ids(domain: str) -> frozenset[str]:
    """The keys English has in ``domain``."""
    english = translations(domain, ENGLISH)
    catalog: dict[object, str] = getattr(english, "_catalog", {})
    ids = {key[0] if isinstance(key, tuple) else key for key in catalog}
    return frozenset(str(key) for key in ids if key)


def normalize_locale(tag: str | None) -> str:
    """A platform's language tag → a shipped catalogue code; English when none fits.

    Telegram sends IETF tags (``de``, ``pt-br``, ``zh-hans``), Discord its locales
    (``pt-BR``, ``zh-TW``, ``es-419``); catalogue codes (``zh_Hant``) map to themselves.
    Chinese is Traditional for ``zh-Hant`` and Taiwan, Hong Kong and Macau, else Simplified.
    """
    if not tag:
        return ENGLISH
    parts = tag.replace("_", "-").lower().split("-")
    shipped = languages()
    by_tag = {code.replace("_", "-").lower(): code for code in shipped}
    if parts[0] == "zh":
        traditional = "hant" in parts[1:] or any(part in ("tw", "hk", "mo") for part in parts[1:])
        wanted = "zh-hant" if traditional else "zh-hans"
        return by_tag.get(wanted, by_tag.get("zh-hans", ENGLISH))
    full = "-".join(parts)
    if full in by_tag:
        return by_tag[full]
    if parts[0] in by_tag:
        return by_tag[parts[0]]
    for lowered, code in by_tag.items():
        if lowered.split("-", 1)[0] == parts[0]:
            return code
    return ENGLISH
