"""``/language``: which language the bot answers a user in.

``/language`` shows it and the choices; ``/language de`` keeps German for that user in
every chat (stored on the user's record); ``/language auto`` follows the platform's
language again (Telegram's ``language_code``, Discord's client locale).
"""

from __future__ import annotations

from dataclasses import replace

from bot import locales
from bot.engine.records import UserRecord
from bot.engine.store import Store
from bot.messages import render

AUTO = ("auto", "default", "reset")


def choices() -> str:
    return "\n".join(f"{language.tag} — {language.native}" for language in locales.languages().values())


def chosen(code: str) -> str | None:
    """The catalogue code a user typed, or None when no shipped language fits it."""
    wanted = code.strip().replace("_", "-").lower()
    shipped = locales.languages()
    for language in shipped.values():
        if wanted in (language.tag.lower(), language.native.lower()):
            return language.code
    found = locales.normalize_locale(wanted)
    # normalize_locale answers English for anything unknown: only "en…" really is.
    return found if found != locales.ENGLISH or wanted.split("-", 1)[0] == "en" else None


def effective(user: UserRecord | None, platform_locale: str | None) -> str | None:
    """The language to answer in: the user's choice, else the platform's."""
    return user.locale if user is not None and user.locale else platform_locale


async def language_command(
    store: Store, platform: str, user_id: str, argument: str, platform_locale: str | None
) -> str:
    """The answer to ``/language [code|auto]`` (and the change, if any)."""
    user = await store.user(platform, user_id)
    argument = argument.strip().split(maxsplit=1)[0] if argument.strip() else ""
    if not argument:
        code = locales.normalize_locale(effective(user, platform_locale))
        name = locales.languages()[code].native
        key = "language_current" if user is not None and user.locale else "language_current_auto"
        return render(key, code, language=name, choices=choices())
    current = user or UserRecord(platform, user_id)
    if argument.lower() in AUTO:
        await store.put_user(replace(current, locale=None))
        code = locales.normalize_locale(platform_locale)
        return render("language_auto", code, language=locales.languages()[code].native)
    code_or_none = chosen(argument)
    if code_or_none is None:
        locale = effective(user, platform_locale)
        return render("language_unknown", locale, code=argument, choices=choices())
    await store.put_user(replace(current, locale=code_or_none))
    return render("language_set", code_or_none, language=locales.languages()[code_or_none].native)
