"""The engine's :class:`~bot.engine.inbound.Channel` on Discord.

Messages reply to the user's message. A slash command has no message of its own:
its deferred response (the "card") stands for it. The card becomes the progress
message and ends as a record of the prompt, and the pictures reply to it; a
command answered in words (``/usage``) gets its words on the card. While the
interaction token is valid (15 minutes) the card is edited through it, later
through the channel, which a drawing queued for long may need.

Discord's limits are met here: 2000 characters a message, the guild's upload limit
(10 MiB without boosts): a picture that does not fit goes as a JPEG preview, the
📎 Original button sends the file itself, or the best JPEG that fits. Each picture
is a message of its own, so replying to one of several edits exactly that one; the
buttons sit on the last. Nobody is pinged by a prompt's text (``@everyone``
included); the user is pinged when the pictures arrive. What the engine says
(prompts quoted in it) is shown as written, never read as markdown.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import discord

from adapters.discord_adapter.components import action_view, settings_view
from adapters.discord_adapter.inbound import key_of
from adapters.discord_adapter.install import InteractionRoutes, RelayedMessage, relay_send
from adapters.discord_adapter.markdown import plain
from adapters.text import cut, split_text
from bot import imaging
from bot.engine.inbound import Action, OutgoingImage, SettingsView
from bot.engine.records import MessageKey
from bot.messages import render
from bot.offload import run_cpu
from bot.types import MIME_EXTENSIONS

log = logging.getLogger(__name__)

MAX_CONTENT = 2000
PROGRESS_PREVIEW_SIDE = 768
# Interaction tokens last 15 minutes; past this the card is edited through the channel.
TOKEN_LIFETIME = timedelta(minutes=14)
# Tried in turn until the JPEG fits the upload limit: (longest side, quality).
JPEG_STEPS: tuple[tuple[int | None, int], ...] = ((None, 92), (4096, 88), (2560, 85), (1600, 80), (1024, 75))
QUIET = discord.AllowedMentions.none()
PING_REPLIED = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=True)


@dataclass
class _Card:
    """A slash command's deferred response."""

    interaction: discord.Interaction
    message_id: int
    channel_id: int
    # What the card says once its work is done ("🎨 **a fox**"); empty for commands answered in words.
    summary: str
    fresh: bool = True


@dataclass
class _Progress:
    channel_id: int
    message_id: int
    card: _Card | None
    last_edit: float = field(default_factory=time.monotonic)
    pending_preview: bytes | None = None


async def fitting_jpeg(data: bytes, limit: int) -> bytes:
    """The largest, best JPEG of ``data`` under ``limit`` bytes (the last step if none is)."""
    jpeg = b""
    for side, quality in JPEG_STEPS:
        jpeg = await run_cpu(imaging.jpeg_preview, data, side, quality)
        if len(jpeg) <= limit:
            break
    return jpeg


class DiscordChannel:
    def __init__(self, client: discord.Client, *, progress_interval_s: float = 5.0) -> None:
        self.client = client
        self.progress_interval_s = progress_interval_s
        self._cards: dict[MessageKey, _Card] = {}
        self._progress: dict[MessageKey, _Progress] = {}
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

    async def _edit_card(self, card: _Card, **changes: Any) -> None:
        if card.interaction.created_at > datetime.now(UTC) - TOKEN_LIFETIME:
            await card.interaction.edit_original_response(**changes)
        else:
            await self._message(card.channel_id, card.message_id).edit(**changes)

    def _card_text(self, card: _Card, text: str) -> str:
        return cut(f"{card.summary}\n{text}" if card.summary else text, MAX_CONTENT)

    # --- progress -------------------------------------------------------------

    async def show_progress(self, reply_to: MessageKey, text: str, actions: Sequence[Action]) -> MessageKey:
        text = plain(text)
        card = self._cards.get(reply_to)
        if card is not None and card.fresh:
            card.fresh = False
            await self._edit_card(card, content=self._card_text(card, text), view=action_view(actions))
            self._progress[reply_to] = _Progress(card.channel_id, card.message_id, card)
            return reply_to
        sent = await self._send(reply_to, content=text, view=action_view(actions), ping=False)
        key = key_of(sent)
        self._progress[key] = _Progress(sent.channel.id, sent.id, None)
        try:
            await sent.channel.typing()
        except discord.HTTPException as error:
            log.info("could not show typing in %s: %s", sent.channel.id, error)
        return key

    async def update_progress(self, progress: MessageKey, text: str, preview: bytes | None = None) -> None:
        state = self._progress.get(progress)
        if state is None:
            return
        if time.monotonic() - state.last_edit < self.progress_interval_s:
            state.pending_preview = preview or state.pending_preview
            return
        preview, state.pending_preview = preview or state.pending_preview, None
        state.last_edit = time.monotonic()
        text = plain(text)
        changes: dict[str, Any] = {"content": self._card_text(state.card, text) if state.card else text}
        if preview is not None:
            jpeg = await run_cpu(imaging.jpeg_preview, preview, PROGRESS_PREVIEW_SIDE, 80)
            changes["attachments"] = [discord.File(io.BytesIO(jpeg), filename="preview.jpg")]
        try:
            if state.card is not None:
                await self._edit_card(state.card, **changes)
            else:
                await self._message(state.channel_id, state.message_id).edit(**changes)
        except discord.HTTPException as error:
            # Progress is a courtesy: a failed edit must never fail the drawing.
            log.warning("could not update progress message %s: %s", state.message_id, error)

    async def clear_progress(self, progress: MessageKey) -> None:
        state = self._progress.pop(progress, None)
        if state is None:
            return
        if state.card is not None:
            # The card stays, as the record of what was asked.
            await self._edit_card(state.card, content=state.card.summary or "✓", attachments=[], view=None)
            self.release(progress)
            return
        try:
            await self._message(state.channel_id, state.message_id).delete()
        except discord.NotFound:
            log.info("progress message %s was already gone", state.message_id)

    # --- results ------------------------------------------------------------------

    async def send_images(
        self, reply_to: MessageKey, images: Sequence[OutgoingImage], caption: str, actions: Sequence[Action]
    ) -> list[MessageKey]:
        limit = self.upload_limit(reply_to.chat_id)
        keys: list[MessageKey] = []
        for index, image in enumerate(images):
            last = index == len(images) - 1
            upload = await self._picture(image, index, limit)
            sent = await self._send(
                reply_to,
                content=cut(plain(caption), MAX_CONTENT) if index == 0 else "",
                files=[upload],
                view=action_view(actions) if last else None,
                ping=index == 0,
            )
            keys.append(key_of(sent))
        return keys

    @staticmethod
    async def _picture(image: OutgoingImage, index: int, limit: int) -> discord.File:
        if len(image.data) <= limit:
            extension = MIME_EXTENSIONS.get(image.mime, "png")
            return discord.File(io.BytesIO(image.data), filename=f"redraw-{index + 1}.{extension}")
        # Over the upload limit: a JPEG preview (the 📎 Original button sends the best that fits).
        preview = await fitting_jpeg(image.data, limit)
        return discord.File(io.BytesIO(preview), filename=f"redraw-{index + 1}-preview.jpg")

    def upload_limit(self, chat_id: str) -> int:
        """The guild's upload limit (more with boosts); 10 MiB in DMs."""
        channel = self.client.get_channel(int(chat_id))
        guild = getattr(channel, "guild", None)
        if isinstance(guild, discord.Guild):
            return guild.filesize_limit
        return discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES

    # --- text, files, settings ------------------------------------------------------

    async def send_text(self, reply_to: MessageKey, text: str, actions: Sequence[Action] = ()) -> MessageKey:
        card = self._cards.pop(reply_to, None)
        if card is not None and card.fresh:
            await self._edit_card(card, content=self._card_text(card, plain(text)), view=action_view(actions))
            return reply_to
        parts = [plain(text)]
        if len(parts[0]) > MAX_CONTENT:
            # Split, then escaped (at most doubling): no escape is parted from what it escapes.
            parts = [plain(part) for part in split_text(text, MAX_CONTENT // 2)]
        sent: discord.Message | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sent = await self._send(
                reply_to, content=part, view=action_view(actions) if last else None, reply=index == 0
            )
        assert sent is not None
        return key_of(sent)

    async def send_file(
        self, reply_to: MessageKey, data: bytes, filename: str, mime: str, locale: str | None = None
    ) -> MessageKey:
        limit = self.upload_limit(reply_to.chat_id)
        content = ""
        if len(data) > limit:
            log.info(
                "original %s is %d bytes, over the %d-byte upload limit: JPEG", filename, len(data), limit
            )
            content = render(
                "original_too_large", locale, size_mb=f"{len(data) / 2**20:.1f}", limit_mb=limit // 2**20
            )
            data = await fitting_jpeg(data, limit)
            filename = f"{filename.rsplit('.', 1)[0]}.jpg"
        upload = discord.File(io.BytesIO(data), filename=filename)
        sent = await self._send(reply_to, content=content, files=[upload])
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
        route = self.routes.get(str(channel_id))
        if route is not None:
            return await relay_send(route, **kwargs)
        return await self.client.get_partial_messageable(channel_id).send(**kwargs)
