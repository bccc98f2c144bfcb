"""Logging in to the Bot API (``redraw run`` and ``redraw check``), and the webhook secret
every instance agrees on."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable

from telegram.error import InvalidToken, TelegramError

from bot.app.config import Settings
from bot.errors import StartupError


def webhook_secret(settings: Settings) -> str:
    """REDRAW_WEBHOOK_SECRET, or one derived from the bot token: every instance agrees on it."""
    if settings.redraw_webhook_secret is not None:
        return settings.redraw_webhook_secret.get_secret_value()
    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    return hashlib.sha256(f"redraw-webhook:{token}".encode()).hexdigest()


async def logged_in(initialize: Awaitable[None], settings: Settings) -> None:
    """Await a bot's initialize() (it calls getMe): a refused token or an unreachable
    Bot API becomes a one-line StartupError (``redraw run``, ``redraw check``)."""
    try:
        await initialize
    except InvalidToken as error:
        raise StartupError("Telegram refused TELEGRAM_BOT_TOKEN; check it with @BotFather") from error
    except TelegramError as error:
        where = settings.telegram_api_base_url or "api.telegram.org"
        raise StartupError(f"could not reach Telegram's Bot API at {where}: {error}") from error
