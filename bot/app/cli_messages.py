"""The ``redraw`` command's own wording of the messages whose chat wording speaks of the
bot: its buttons, its commands, sending things again, "the bot's operator". At a
terminal the reader is the operator, with flags and environment variables to change.

The wording is the ``cli`` domain of the catalogues (:mod:`bot.locales`); keys it lacks
read the same in a chat and at a terminal (see :mod:`bot.messages`). A language with
no ``cli`` catalogue gets the English terminal wording of those keys.
"""

from __future__ import annotations

from typing import Any

from bot import locales
from bot.errors import RedrawError
from bot.messages import fill, normalize_locale, render, template

CLI_KEYS = locales.message_ids("cli")


def render_cli(key: str, locale: str | None = None, **params: Any) -> str:
    """``key``'s terminal wording, or its chat wording when that reads the same."""
    if key not in CLI_KEYS:
        return render(key, locale, **params)
    code = normalize_locale(locale)
    if locales.translations("cli", code) is None:
        code = locales.ENGLISH
    text = template("cli", key, code, params)
    assert text is not None
    return fill(text, code, params)


def render_cli_error(error: RedrawError, locale: str | None = None) -> str:
    return render_cli(error.message_key, locale, **error.params)
