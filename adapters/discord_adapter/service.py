"""The Discord side of Redraw: a discord.py client whose slash commands, messages and
component presses become engine calls.

Lifecycle (driven by :mod:`bot.app.runtime`): :meth:`DiscordAdapter.start` logs in
over REST and registers the application commands, without connecting to the
gateway yet, so crash recovery runs first; :meth:`start_receiving` connects and
waits for READY (a refused privileged intent is a clear startup error);
:meth:`stop_receiving` takes no more events, leaves the gateway and finishes the
events already taken; :meth:`close` logs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from adapters.buttons import ActionButton
from adapters.discord_adapter.addresses import AddressedClient, Addresses, log_in
from adapters.discord_adapter.channel import DiscordChannel
from adapters.discord_adapter.commands import CommandTranslator, build_commands, prompt_summary
from adapters.discord_adapter.components import (
    ActionButtonItem,
    ChangeModal,
    SettingSelectItem,
    settings_view,
)
from adapters.discord_adapter.grid import GridButtonItem, open_grid
from adapters.discord_adapter.inbound import (
    WORDING,
    MessageReader,
    interaction_inbound,
    interaction_locale,
    is_picture,
    key_of,
    message_key,
)
from adapters.discord_adapter.install import reachable, redraw_inbound
from adapters.discord_adapter.pacing import RateLimits
from adapters.discord_adapter.pages import after_history, offer_versions
from adapters.guard import Guard
from bot.app.config import Settings
from bot.engine.entry import Engine
from bot.engine.records import MessageKey
from bot.engine.seams import ActionKind, ActionPress, ChatKind, SettingPick
from bot.errors import StartupError
from bot.messages import render

log = logging.getLogger(__name__)
# Redraw has no voice: discord.py need not warn that its voice libraries are missing.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

READY_TIMEOUT_S = 60.0
INTENT_HELP = (
    "Discord refused the message-content intent. Enable it in the Developer Portal "
    "(your application → Bot → Privileged Gateway Intents → Message Content Intent), "
    "or set DISCORD_MESSAGE_CONTENT=false to run with slash commands only"
)


class CommandTree(app_commands.CommandTree["RedrawClient"]):
    async def interaction_check(self, interaction: discord.Interaction[RedrawClient], /) -> bool:
        # The earliest point a command's task is ours: from here on, stopping waits for it.
        interaction.client.redraw_handler._track()
        return True


class RedrawClient(AddressedClient):
    def __init__(
        self,
        adapter: DiscordAdapter,
        addresses: Addresses,
        intents: discord.Intents,
        guild_ready_timeout_s: float,
    ) -> None:
        # No message cache: replies carry the message they answer, and memory stays flat.
        super().__init__(
            addresses=addresses,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            max_messages=None,
            chunk_guilds_at_startup=False,
            guild_ready_timeout=guild_ready_timeout_s,
        )
        self.redraw_handler = adapter
        self.tree = CommandTree(self)

    async def on_message(self, message: discord.Message) -> None:
        await self.redraw_handler.on_message(message)


class DiscordAdapter:
    platform = "discord"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        limits: RateLimits | None = None,
        guild_ready_timeout_s: float = 2.0,
    ) -> None:
        if settings.discord_bot_token is None:
            raise ValueError("DISCORD_BOT_TOKEN is not set")
        self.settings = settings
        self.engine = engine
        intents = discord.Intents.default()
        intents.message_content = settings.discord_message_content
        # READY is followed by the guilds one by one; discord.py waits this long after the last.
        self.client = RedrawClient(self, Addresses.from_settings(settings), intents, guild_ready_timeout_s)
        self.client.add_dynamic_items(ActionButtonItem, SettingSelectItem, GridButtonItem)
        # Discord's rate limits, spent on results first.
        self.channel = DiscordChannel(self.client, limits=limits)
        self.guard = Guard(self.platform, engine, self.channel, (discord.HTTPException,))
        self._reader: MessageReader | None = None
        self._gateway: asyncio.Task[None] | None = None
        self._accepting = False
        self._handling: set[asyncio.Task[Any]] = set()
        # Set when the gateway connection ends for good: the process should exit and be restarted.
        self.lost = asyncio.Event()
        tree = self.client.tree
        for command in build_commands(self, engine.options.models[engine.options.default_backend]):
            tree.add_command(command)
        tree.on_error = self._on_command_error  # type: ignore[method-assign]

    # --- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        assert self.settings.discord_bot_token is not None
        await log_in(self.client, self.settings.discord_bot_token.get_secret_value())
        user = self.client.user
        assert user is not None
        self._reader = MessageReader(user.id)
        await self.client.tree.set_translator(CommandTranslator())
        try:
            await self.client.tree.sync()
        except discord.HTTPException as error:
            log.warning("discord: could not register the slash commands: %s", error)
        log.info("discord: logged in as %s", user)

    async def recover_receptions(self) -> None:
        """Nothing to do: a gateway message is not kept before it is handled (the gateway
        never redelivers, and discord.py builds its messages from a live connection)."""
        return None

    async def start_receiving(self) -> None:
        self._accepting = True
        self._gateway = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        self._gateway.add_done_callback(self._gateway_ended)
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._gateway}, timeout=READY_TIMEOUT_S, return_when="FIRST_COMPLETED"
        )
        if ready in done:
            log.info("discord: connected to the gateway, in %d servers", len(self.client.guilds))
            return
        ready.cancel()
        if self._gateway in done:
            error = self._gateway.exception()
            if isinstance(error, discord.PrivilegedIntentsRequired):
                raise StartupError(INTENT_HELP) from error
            raise StartupError(f"could not connect to Discord's gateway: {error}") from error
        raise StartupError(f"Discord's gateway did not get ready in {READY_TIMEOUT_S:g} s")

    def _gateway_ended(self, task: asyncio.Task[None]) -> None:
        # Not stopped by us: discord.py reconnects by itself, so this is what it could not
        # survive (a revoked token, say). discord.py has closed the client by then.
        if self._accepting and not task.cancelled() and task.exception() is not None:
            log.error("discord: the gateway connection ended", exc_info=task.exception())
            self.lost.set()

    def health(self) -> str | None:
        """None when events flow; otherwise what is wrong."""
        if self._gateway is None or self._gateway.done():
            return "discord: not connected to the gateway"
        if self.client.is_closed() or not self.client.is_ready():
            return "discord: not ready"
        return None

    async def stop_receiving(self) -> None:
        """Take no more events, leave the gateway, and finish the events already taken."""
        self._accepting = False
        if self._gateway is not None:
            self._gateway.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._gateway
            if self.client.ws is not None:
                await self.client.ws.close(code=1000)
        # Events already read are handled in tasks of their own that may not have started yet.
        for _ in range(5):
            await asyncio.sleep(0)
        while self._handling:
            await asyncio.gather(*self._handling, return_exceptions=True)

    async def close(self) -> None:
        # Status messages still to be removed get a moment; then the client logs out.
        await self.channel.background.drain(5.0)
        await self.client.close()

    def _track(self) -> None:
        """Marks the event being handled, so stopping waits for it to finish."""
        task = asyncio.current_task()
        if task is not None and task not in self._handling:
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)

    # --- messages -----------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        # Other bots (and our own messages) and system messages (joins, pins) are not for us.
        if not self._accepting or self._reader is None or message.author.bot or message.is_system():
            return
        self._track()
        replied = await self._replied(message)
        inbound = self._reader.build(message, replied)
        if inbound is not None:
            await self.guard.handle(inbound)

    async def _replied(self, message: discord.Message) -> discord.Message | None:
        """The message this one replies to: carried by the gateway, else fetched when it matters."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        if isinstance(reference.resolved, discord.Message):
            return reference.resolved
        if reference.resolved is not None or self._reader is None or not self._reader.mentions_bot(message):
            return None  # deleted, or not addressed to us
        try:
            return await message.channel.fetch_message(reference.message_id)
        except discord.HTTPException as error:
            log.info("discord: could not fetch replied message %s: %s", reference.message_id, error)
            return None

    # --- application commands --------------------------------------------------------

    async def run_command(
        self,
        interaction: discord.Interaction,
        command: str,
        *,
        text: str = "",
        attachments: Sequence[discord.Attachment] = (),
        params: dict[str, str] | None = None,
        reply_to: MessageKey | None = None,
        summary: str = "",
        ephemeral: bool = False,
        target: discord.Message | None = None,
    ) -> None:
        """Defer (Discord wants an answer within 3 s), then let the engine answer on the card.
        ``target``: the message "Redraw this" works on."""
        self._track()
        if not self._accepting:
            await interaction.response.send_message(
                render("restarting", interaction_locale(interaction)), ephemeral=True
            )
            return
        callback = await interaction.response.defer(thinking=True, ephemeral=ephemeral)
        message_id = callback.message_id if callback is not None else None
        if message_id is None:
            message_id = (await interaction.original_response()).id
        assert interaction.channel_id is not None
        if not reachable(interaction, self.client):
            # A user-installed command where the bot is not a member: answered through it.
            self.channel.routes.remember(interaction)
        key = message_key(interaction.channel_id, message_id)
        self.channel.adopt(key, interaction, summary)
        if target is not None and self._reader is not None:
            inbound = redraw_inbound(interaction, key, target, text, self._reader.bot_id)
        else:
            inbound = interaction_inbound(
                interaction,
                key,
                command,
                text=text,
                attachments=attachments,
                params=params,
                reply_to=reply_to,
            )
        await self.guard.handle(inbound)
        await after_history(self.engine, self.settings, interaction, inbound)

    async def ask_redraw(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """ "Redraw this" in a message's Apps menu: a modal asks what to change."""
        locale = interaction_locale(interaction)
        if not self._accepting:
            await interaction.response.send_message(render("restarting", locale), ephemeral=True)
            return
        if not any(is_picture(attachment) for attachment in message.attachments):
            what = render("unsupported_other", locale)
            await interaction.response.send_message(
                render("unsupported_input", locale, what=what)[:2000], ephemeral=True
            )
            return
        await interaction.response.send_modal(
            ChangeModal(
                render("discord_redraw_this", locale),
                render("discord_redraw_what", locale),
                lambda answered, change: self.run_redraw(answered, message, change),
            )
        )

    async def run_redraw(self, interaction: discord.Interaction, message: discord.Message, text: str) -> None:
        """The modal's answer: a turn on ``message``'s picture, on a card like /imagine's."""
        summary = f"**{prompt_summary(text)}** 🖼️"
        await self.run_command(interaction, "imagine", text=text, target=message, summary=summary)

    async def run_region(self, interaction: discord.Interaction, grid: MessageKey, text: str) -> None:
        """A region grid's form answered: a reply to the grid (its cells), on a card."""
        summary = f"**{prompt_summary(text)}** ✏️"
        await self.run_command(interaction, "imagine", text=text, reply_to=grid, summary=summary)

    async def _on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error(
            "discord: the /%s command failed",
            interaction.command and interaction.command.name,
            exc_info=error,
        )
        text = render("internal_error", interaction_locale(interaction))
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)

    # --- buttons and menus --------------------------------------------------------------

    async def on_action(self, interaction: discord.Interaction, button: ActionButton) -> None:
        locale = interaction_locale(interaction)
        message = interaction.message
        if message is None:
            return
        if button.kind is ActionKind.REGION:
            await open_grid(self, interaction, button)  # adapters/discord_adapter/grid.py
            return
        self._track()
        if button.kind is ActionKind.CANCEL:
            await interaction.response.send_message(render("cancelling", locale), ephemeral=True)
        else:
            # Acknowledged at once: sending an original or starting a drawing may take a while.
            await interaction.response.defer()
        if not reachable(interaction, self.client):
            self.channel.routes.remember(interaction)
        press = ActionPress(button.kind, button.turn_id, key_of(message), str(interaction.user.id), locale)
        await self.guard.press(press)
        if button.kind is ActionKind.VERSIONS:  # 🌳 All versions, to the presser alone
            await offer_versions(
                self.engine, self.settings, interaction, press.message.chat_id, button.turn_id, locale=locale
            )

    async def on_setting(self, interaction: discord.Interaction, name: str, value: str) -> None:
        message = interaction.message
        if message is None:
            return
        self._track()
        locale = interaction_locale(interaction)
        private = interaction.guild_id is None
        pick = SettingPick(
            message=key_of(message),
            user_id=str(interaction.user.id),
            chat_kind=ChatKind.PRIVATE if private else ChatKind.GROUP,
            name=name,
            value=value,
            chat_admin=private or interaction.permissions.manage_channels,
            locale=locale,
            wording=WORDING,
        )
        outcome = await self.guard.pick(pick)
        if outcome is None:
            # Answered whatever went wrong: Discord would say "This interaction failed".
            await interaction.response.send_message(render("internal_error", locale), ephemeral=True)
            return
        if outcome.view is not None:
            await interaction.response.edit_message(
                content=outcome.view.text, view=settings_view(outcome.view)
            )
        else:
            # Refused or unchanged: said to the picker alone.
            await interaction.response.send_message(outcome.notice[:2000], ephemeral=True)
