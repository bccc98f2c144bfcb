"""The command menu Telegram shows, in each shipped language (from the catalogues)."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand
from telegram.error import TelegramError

from bot.locales import ENGLISH, languages
from bot.messages import render

log = logging.getLogger(__name__)

MENU = ("draw", "new", "settings", "usage", "history", "cancel", "language", "help")
# The menu in each shipped language, by Telegram's language_code ("" is everyone else's: English).
MENU_TEXT = {
    ("" if code == ENGLISH else language.telegram_code): {name: render(f"menu_{name}", code) for name in MENU}
    # Reversed: where two catalogues share a code (zh_Hans, zh_Hant), the first listed wins.
    for code, language in reversed(languages().items())
}


async def set_menu(bot: Bot) -> None:
    """The menu in every language; a failure is logged (the bot works without it)."""
    try:
        for language, texts in MENU_TEXT.items():
            commands = [BotCommand(name, texts[name]) for name in MENU]
            await bot.set_my_commands(commands, language_code=language or None)
    except TelegramError as error:
        log.warning("telegram: could not set the command menu: %s", error)
