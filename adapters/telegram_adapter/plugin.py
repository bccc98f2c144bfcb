"""Telegram as the ``redraw.platforms`` entry point ``telegram`` (a PlatformPlugin, see
bot.app.plugins). Loaded only when TELEGRAM_BOT_TOKEN is set; python-telegram-bot is
imported only when the adapter is built or checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.app.config import Settings
from bot.engine.entry import Engine

if TYPE_CHECKING:
    from adapters.telegram_adapter.service import TelegramAdapter


class TelegramPlugin:
    name = "telegram"
    setting = "TELEGRAM_BOT_TOKEN"

    def build(self, settings: Settings, engine: Engine, **options: Any) -> TelegramAdapter:
        from adapters.telegram_adapter.service import TelegramAdapter  # noqa: PLC0415

        return TelegramAdapter(settings, engine, **options)

    async def check(self, settings: Settings) -> str:
        """getMe: the bot's name, how it takes updates, and whether inline and guest mode are on."""
        from telegram import Bot  # noqa: PLC0415

        from adapters.telegram_adapter.login import logged_in  # noqa: PLC0415

        assert settings.telegram_bot_token is not None
        bot = Bot(
            settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_api_base_url or "https://api.telegram.org/bot",
            base_file_url=settings.telegram_api_file_url or "https://api.telegram.org/file/bot",
        )
        try:
            await logged_in(bot.initialize(), settings)
            me = bot.bot
        finally:
            await bot.shutdown()
        mode = f"webhook {settings.redraw_webhook_url}" if settings.redraw_webhook_url else "long polling"
        # Both are BotFather settings (see the README's "Inline mode" and "Guest mode").
        inline = "inline mode on" if me.supports_inline_queries else "inline mode off"
        guest = "guest mode on" if me.supports_guest_queries else "guest mode off"
        return f"@{me.username} (id {me.id}), {mode}, {inline}, {guest}"


plugin = TelegramPlugin()
