"""The engine's :class:`~bot.engine.seams.Channel` on Discord.

Messages reply to the user's message. A slash command has no message of its own:
its deferred response (the "card") stands for it. The card shows the status while
the picture draws and then becomes the picture (or the answer); a command answered
in words (``/usage``) gets its words on the card. While the interaction token is
valid (15 minutes) the card is edited through it, later through the channel.

Discord's limits are met here: 2000 characters a message, the guild's upload limit
(10 MiB without boosts): a picture that does not fit goes as a JPEG preview, the
📎 Original button sends the file itself, or the best JPEG that fits. Each picture
is a message of its own, so replying to one of several edits exactly that one; the
buttons sit on the last. Nobody is pinged by a prompt's text (``@everyone``
included); the user is pinged when the pictures arrive as new messages.

Rate limits are spent on results first (:mod:`.pacing`): a quick picture is one
message; a slow one shows a status message first (no typing indicator: the status
shows the work), and the picture takes its place in one edit. What the engine says
(prompts quoted in it) is shown as written, never read as markdown.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord

from adapters.discord_adapter.components import action_view, settings_view
from adapters.discord_adapter.inbound import key_of
from adapters.discord_adapter.install import TOKEN_LIFETIME, InteractionRoutes, RelayedMessage, relay_send
from adapters.discord_adapter.markdown import plain
from adapters.discord_adapter.pacing import DiscordPacer, RateLimits, Route
from adapters.pacing import Priority, Ticket
from adapters.progress import Background, Boards, StatusMessage
from adapters.text import cut, send_pieces, split_text
from adapters.uploads import JpegSteps, fitting_jpeg, original_upload, picture_upload
from bot.engine.records import MessageKey
from bot.engine.seams import Action, OutgoingImage, Progress, SettingsView

log = logging.getLogger(__name__)

MAX_CONTENT = 2000
# Tried in turn until the JPEG fits the upload limit: (longest side, quality).
JPEG_STEPS: JpegSteps = ((None, 92), (4096, 88), (2560, 85), (1600, 80), (1024, 75))
QUIET = discord.AllowedMentions.none()
PING_REPLIED = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=True)
# Cancel buttons on a channel's board (Discord allows 25 a message).
MAX_BOARD_BUTTONS = 25


@dataclass
class _Card:
    """A slash command's deferred response."""

    interaction: discord.Interaction
    message_id: int
    channel_id: int
    # What the card says once its work is done ("🎨 **a fox**"); empty for commands answered in words.
    summary: str
    fresh: bool = True


def _preview_file(preview: bytes) -> discord.File:
    return discord.File(io.BytesIO(preview), filename="preview.jpg")


class _Status(StatusMessage):
    """A picture's status: a message of its own replying to the prompt, or a slash
    command's card (already on screen, so it is only ever edited)."""

    def __init__(
        self, channel: DiscordChannel, reply_to: MessageKey, actions: Sequence[Action], card: _Card | None
    ) -> None:
        super().__init__(channel.pacing.pacer, channel.background, actions)
        self.channel = channel
        self.reply_to = reply_to
        self.card = card
        self.channel_id = int(reply_to.chat_id)
        if card is not None:
            self.key = reply_to

    async def create(
        self, text: str, preview: bytes | None, actions: Sequence[Action], ticket: Ticket
    ) -> MessageKey:
        files = [_preview_file(preview)] if preview is not None else []
        view = action_view(actions)
        sent = await self.channel._send(
            self.reply_to, content=plain(text), files=files, view=view, ping=False, ticket=ticket
        )
        return key_of(sent)

    async def edit(self, text: str, preview: bytes | None, actions: Sequence[Action], ticket: Ticket) -> None:
        # Named every time: an edit without a view would keep the buttons of before.
        changes: dict[str, Any] = {"view": action_view(actions)}
        text = plain(text)
        if preview is not None:
            changes["attachments"] = [_preview_file(preview)]
        if self.card is not None:
            text = self.channel._card_text(self.card, text)
            await self.channel._edit_card(self.card, ticket, content=text, **changes)
            return
        assert self.key is not None
        await self.channel._edit(self.channel_id, int(self.key.message_id), ticket, content=text, **changes)

    async def delete(self, ticket: Ticket) -> None:
        assert self.key is not None
        await self.channel._remove(self.key, ticket)


class DiscordChannel:
    def __init__(self, client: discord.Client, *, limits: RateLimits | None = None) -> None:
        self.client = client
        self.pacing = DiscordPacer(limits)
        self.background = Background()
        self._cards: dict[MessageKey, _Card] = {}
        self._boards = Boards(
            lambda chat: _Status(self, chat, (), None), limit=MAX_CONTENT, buttons=MAX_BOARD_BUTTONS
        )
        # Channels the bot is not in (a user-installed app): reached through an interaction.
        self.routes = InteractionRoutes()

    # --- slash-command cards ------------------------------------------------------

    def adopt(self, key: MessageKey, interaction: discord.Interaction, summary: str = "") -> None:
        """``key`` is ``interaction``'s deferred response: answers to ``key`` go onto it."""
        self._forget_expired()
        self._cards[key] = _Card(interaction, int(key.message_id), int(key.chat_id), summary)

    def release(self, key: MessageKey) -> None:
        """The command's work is over; a card still unanswered just keeps its summary."""
        self._cards.pop(key, None)

    def _forget_expired(self) -> None:
        cutoff = datetime.now(UTC) - TOKEN_LIFETIME
        for key, card in list(self._cards.items()):
            if card.interaction.created_at < cutoff:
                del self._cards[key]

    async def _edit_card(self, card: _Card, ticket: Ticket | None = None, **changes: Any) -> None:
        # Past the token's lifetime the card is edited through the channel.
        if card.interaction.created_at > datetime.now(UTC) - TOKEN_LIFETIME:
            await self.pacing.wait(Route.CARD, card.channel_id, ticket)
            await card.interaction.edit_original_response(**changes)
        else:
            await self._edit(card.channel_id, card.message_id, ticket, **changes)

    async def _edit(
        self, channel_id: int, message_id: int, ticket: Ticket | None = None, **changes: Any
    ) -> None:
        await self.pacing.wait(Route.EDIT, channel_id, ticket)
        await self._message(channel_id, message_id).edit(**changes)

    def _card_text(self, card: _Card, text: str) -> str:
        return cut(f"{card.summary}\n{text}" if card.summary else text, MAX_CONTENT)

    # --- progress -------------------------------------------------------------

    def progress(self, reply_to: MessageKey, actions: Sequence[Action], label: str = "") -> Progress:
        card = self._cards.get(reply_to)
        if card is not None and card.fresh:
            card.fresh = False
            return _Status(self, reply_to, actions, card)
        if not self._in_server(int(reply_to.chat_id)):
            return _Status(self, reply_to, actions, None)
        # A server's channel (5 new messages per 5 s): its pictures in progress share one message.
        return self._boards.line(reply_to, actions, label)

    def _in_server(self, channel_id: int) -> bool:
        """A server's channel, where many may ask at once (a DM has one person)."""
        return isinstance(getattr(self.client.get_channel(channel_id), "guild", None), discord.Guild)

    async def _remove(self, key: MessageKey, ticket: Ticket | None = None) -> None:
        """Take a status off the screen: a card keeps its summary, a message goes."""
        ticket = ticket or Ticket(Priority.CLEANUP)
        card = self._cards.pop(key, None)
        channel_id = int(key.chat_id)
        try:
            if card is not None:
                await self._edit_card(card, ticket, content=card.summary or "✓", attachments=[], view=None)
            else:
                await self.pacing.wait(Route.DELETE, channel_id, ticket)
                await self._message(channel_id, int(key.message_id)).delete()
        except discord.NotFound:
            log.info("status message %s was already gone", key.message_id)

    async def _into(self, key: MessageKey, **changes: Any) -> bool:
        """Turn the status ``key`` (a message or a card) into the answer, in one edit."""
        card = self._cards.get(key)
        channel_id = int(key.chat_id)
        try:
            if card is not None:
                await self._edit_card(card, **changes)
                self.release(key)
            else:
                await self._edit(channel_id, int(key.message_id), **changes)
        except discord.HTTPException as error:
            log.warning("could not turn status message %s into the answer: %s", key.message_id, error)
            return False
        return True

    # --- results ------------------------------------------------------------------

    async def send_images(
        self,
        reply_to: MessageKey,
        images: Sequence[OutgoingImage],
        caption: str,
        actions: Sequence[Action],
        *,
        replace: MessageKey | None = None,
    ) -> list[MessageKey]:
        limit = self.upload_limit(reply_to.chat_id)
        keys: list[MessageKey] = []
        fresh = self._cards.get(reply_to)
        if replace is None and fresh is not None and fresh.fresh:
            replace = reply_to  # a command's card still waiting (/history's sheet) becomes the picture
        for index, image in enumerate(images):
            last = index == len(images) - 1
            content = cut(plain(caption), MAX_CONTENT) if index == 0 else ""
            view = action_view(actions) if last else None
            if index == 0 and replace is not None:
                # The status becomes the first picture (an edit pings nobody; the rest do).
                # A card keeps what was asked on top.
                card = self._cards.get(replace)
                shown = self._card_text(card, content) if card is not None else content
                upload = await self._picture(image, index, limit)
                if await self._into(replace, content=shown, attachments=[upload], view=view):
                    keys.append(replace)
                    continue
                self.background.spawn(self._remove(replace))
            sent = await self._send(
                reply_to,
                content=content,
                files=[await self._picture(image, index, limit)],
                view=view,
                ping=not keys,
            )
            keys.append(key_of(sent))
        return keys

    @staticmethod
    async def _picture(image: OutgoingImage, index: int, limit: int) -> discord.File:
        async def preview(data: bytes) -> bytes:
            return await fitting_jpeg(data, limit, JPEG_STEPS)

        data, filename = await picture_upload(image, index, len(image.data) <= limit, preview)
        return discord.File(io.BytesIO(data), filename=filename)

    def upload_limit(self, chat_id: str) -> int:
        """The guild's upload limit (more with boosts); 10 MiB in DMs."""
        channel = self.client.get_channel(int(chat_id))
        guild = getattr(channel, "guild", None)
        if isinstance(guild, discord.Guild):
            return guild.filesize_limit
        return discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES

    # --- text, files, settings ------------------------------------------------------

    async def send_text(
        self,
        reply_to: MessageKey,
        text: str,
        actions: Sequence[Action] = (),
        *,
        replace: MessageKey | None = None,
    ) -> MessageKey:
        if replace is not None:
            card = self._cards.get(replace)
            content = self._card_text(card, plain(text)) if card is not None else plain(text)
            fits = len(content) <= MAX_CONTENT
            if fits and await self._into(replace, content=content, attachments=[], view=action_view(actions)):
                return replace
            self.background.spawn(self._remove(replace))
        card = self._cards.pop(reply_to, None)
        if card is not None and card.fresh:
            await self._edit_card(card, content=self._card_text(card, plain(text)), view=action_view(actions))
            return reply_to
        parts = [plain(text)]
        if len(parts[0]) > MAX_CONTENT:
            # Split, then escaped (at most doubling): no escape is parted from what it escapes.
            parts = [plain(part) for part in split_text(text, MAX_CONTENT // 2)]

        async def send(part: str, first: bool, last: bool) -> discord.Message:
            return await self._send(
                reply_to, content=part, view=action_view(actions) if last else None, reply=first
            )

        return key_of(await send_pieces(parts, send))

    async def send_file(
        self, reply_to: MessageKey, data: bytes, filename: str, mime: str, locale: str | None = None
    ) -> MessageKey:
        limit = self.upload_limit(reply_to.chat_id)
        original = await original_upload(data, filename, limit, locale, JPEG_STEPS)
        upload = discord.File(io.BytesIO(original.data), filename=original.filename)
        sent = await self._send(reply_to, content=original.note or "", files=[upload])
        return key_of(sent)

    async def send_settings(self, reply_to: MessageKey, view: SettingsView) -> MessageKey:
        content = cut(plain(view.text), MAX_CONTENT)
        card = self._cards.pop(reply_to, None)
        if card is not None and card.fresh:
            await self._edit_card(card, content=content, view=settings_view(view))
            return reply_to
        sent = await self._send(reply_to, content=content, view=settings_view(view))
        return key_of(sent)

    # --- sending --------------------------------------------------------------------

    def _message(self, channel_id: int, message_id: int) -> discord.PartialMessage | RelayedMessage:
        route = self.routes.get(str(channel_id))
        if route is not None:
            return RelayedMessage(route, message_id)
        return self.client.get_partial_messageable(channel_id).get_partial_message(message_id)

    async def _send(
        self,
        reply_to: MessageKey,
        *,
        content: str = "",
        files: Sequence[discord.File] = (),
        view: discord.ui.View | None = None,
        ping: bool = True,
        reply: bool = True,
        ticket: Ticket | None = None,
    ) -> discord.Message:
        """A message in the channel of ``reply_to``, replying to it (``reply``) when it names a message."""
        channel_id = int(reply_to.chat_id)
        reference = None
        if reply and reply_to.message_id:
            # If the user deleted their message meanwhile, the answer still arrives.
            reference = discord.MessageReference(
                message_id=int(reply_to.message_id), channel_id=channel_id, fail_if_not_exists=False
            )
        kwargs: dict[str, Any] = {
            "content": content or None,
            "reference": reference,
            "allowed_mentions": PING_REPLIED if ping else QUIET,
        }
        if files:
            kwargs["files"] = list(files)
        if view is not None:
            kwargs["view"] = view
        await self.pacing.wait(Route.CREATE, channel_id, ticket)
        route = self.routes.get(str(channel_id))
        if route is not None:
            return await relay_send(route, **kwargs)
        return await self.client.get_partial_messageable(channel_id).send(**kwargs)
