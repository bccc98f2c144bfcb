"""Discord as the ``redraw.platforms`` entry point ``discord`` (a PlatformPlugin, see
bot.app.plugins). Loaded only when DISCORD_BOT_TOKEN is set; discord.py is imported only
when the adapter is built or checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.app.config import Settings
from bot.engine.entry import Engine

if TYPE_CHECKING:
    from adapters.discord_adapter.service import DiscordAdapter


class DiscordPlugin:
    name = "discord"
    setting = "DISCORD_BOT_TOKEN"

    def build(self, settings: Settings, engine: Engine, **options: Any) -> DiscordAdapter:
        from adapters.discord_adapter.service import DiscordAdapter  # noqa: PLC0415

        return DiscordAdapter(settings, engine, **options)

    async def check(self, settings: Settings) -> str:
        """A login (no gateway): who the bot is."""
        import discord  # noqa: PLC0415

        from adapters.discord_adapter.addresses import AddressedClient, Addresses, log_in  # noqa: PLC0415

        assert settings.discord_bot_token is not None
        client = AddressedClient(addresses=Addresses.from_settings(settings), intents=discord.Intents.none())
        try:
            await log_in(client, settings.discord_bot_token.get_secret_value())
            user = client.user
        finally:
            await client.close()
        return f"logged in as {user} (id {user.id if user else '?'})"


plugin = DiscordPlugin()
