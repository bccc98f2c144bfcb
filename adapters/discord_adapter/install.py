"""Redraw as a user-installed Discord app, and the "Redraw this" message command.

A user who installs the app (Developer Portal → Installation → User Install) can run
``/imagine``, ``/history``, ``/usage``, ``/help`` and the message commands in any
server, in DMs and in group DMs, also where the bot is not a member. There the bot
cannot read or post in the channel (Discord answers 403 Missing Access): everything
goes through the interaction instead. Its deferred response is the card, and the
pictures, texts and files that follow are *followup* messages of the interaction's
webhook, edited and deleted through it too. A press on one of those pictures' buttons
is an interaction of its own, which then becomes the way into that channel.

:class:`InteractionRoutes` keeps, per channel the bot cannot reach, the newest
interaction (its token is good for 15 minutes); :class:`~.channel.DiscordChannel`
sends there through it. A picture that finishes after its token expired cannot be
delivered: Retry on the next press sends the stored one (nothing is drawn twice).

"Redraw this" (a message's Apps menu) asks in a modal what to change, then restyles
the message's images, or, on one of the bot's own pictures, continues that turn like
a reply would. The message comes from Discord's resolved interaction data, so it is
the message the user really picked, in the channel the interaction comes from; a
turn named by its buttons is only continued in its own chat (the engine checks).
The modal lives in memory: one opened before a restart is not answered after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import discord

from adapters.discord_adapter.inbound import interaction_inbound, key_of, replied_message
from adapters.inputs import with_reply
from bot.engine.records import MessageKey
from bot.engine.seams import Inbound

# Interaction tokens last 15 minutes; a route or a card's token is not used past this.
TOKEN_LIFETIME = timedelta(minutes=14)


def reachable(interaction: discord.Interaction, client: discord.Client) -> bool:
    """Whether the bot may post in the interaction's channel itself: a guild it is a
    member of, or its own DM with the user. A group DM, a DM between two users, or a
    server the bot is not in (a user-installed command) is reached only through the
    interaction."""
    if interaction.guild_id is not None:
        return client.get_guild(interaction.guild_id) is not None
    return not interaction.context.private_channel


class InteractionRoutes:
    """The newest interaction of each channel the bot cannot post in itself."""

    def __init__(self) -> None:
        self._routes: dict[str, discord.Interaction] = {}

    def remember(self, interaction: discord.Interaction) -> None:
        if interaction.channel_id is None:
            return
        self._forget_expired()
        chat = str(interaction.channel_id)
        known = self._routes.get(chat)
        if known is None or known.created_at <= interaction.created_at:
            self._routes[chat] = interaction

    def get(self, chat_id: str) -> discord.Interaction | None:
        interaction = self._routes.get(chat_id)
        if interaction is None or interaction.created_at < datetime.now(UTC) - TOKEN_LIFETIME:
            return None
        return interaction

    def _forget_expired(self) -> None:
        cutoff = datetime.now(UTC) - TOKEN_LIFETIME
        for chat, interaction in list(self._routes.items()):
            if interaction.created_at < cutoff:
                del self._routes[chat]


@dataclass
class RelayedMessage:
    """A message sent through an interaction's webhook, edited and deleted through it."""

    interaction: discord.Interaction
    message_id: int

    async def edit(self, **changes: Any) -> None:
        await self.interaction.followup.edit_message(self.message_id, **changes)

    async def delete(self) -> None:
        await self.interaction.followup.delete_message(self.message_id)


async def relay_send(interaction: discord.Interaction, **kwargs: Any) -> discord.Message:
    """A followup message: what ``channel.send`` takes, without a reply (webhooks can't)."""
    kwargs.pop("reference", None)
    if kwargs.get("view") is None:
        kwargs.pop("view", None)
    if not kwargs.get("files"):
        kwargs.pop("files", None)
    if kwargs.get("content") is None:
        kwargs.pop("content", None)
    return await interaction.followup.send(wait=True, **kwargs)


class RedrawRunner(Protocol):
    async def run_redraw(
        self, interaction: discord.Interaction, message: discord.Message, text: str
    ) -> None: ...


def redraw_inbound(
    interaction: discord.Interaction, key: MessageKey, message: discord.Message, text: str, bot_id: int
) -> Inbound:
    """ "Redraw this" on ``message``, answered on the card ``key``: one of the bot's pictures is
    continued like a reply to it; anyone else's images are restyled."""
    base = interaction_inbound(interaction, key, "imagine", text=text)
    return with_reply(base, replied_message(message, key_of(message), bot_id))
