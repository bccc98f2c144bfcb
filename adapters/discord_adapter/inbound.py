"""Discord messages and interactions → the engine's neutral :class:`Inbound`.

Everything Discord-shaped is decided here: what a mention of the bot looks like
(``<@id>``, ``<@!id>``, or the bot's own managed role), which attachments are
pictures, and which locale answers (the user's client locale for interactions, the
guild's for messages). What a replied-to picture becomes is the kit's rule
(:mod:`adapters.inputs`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence

import discord

from adapters.buttons import ActionButton, parse
from adapters.inputs import Replied, is_picture_type, with_reply
from bot.engine.records import MessageKey
from bot.engine.seams import ChatKind, ImageInput, Inbound
from bot.errors import InputError, download_too_large
from bot.images.imaging import MAX_INPUT_BYTES
from bot.images.validation import visible

PLATFORM = "discord"
PICTURE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".heic", ".heif", ".avif")

# Discord's own wording of some messages (slash commands): ``help_discord`` and the like.
WORDING = "discord"


def message_key(channel_id: int, message_id: int) -> MessageKey:
    return MessageKey(PLATFORM, str(channel_id), str(message_id))


def key_of(message: discord.Message | discord.PartialMessage) -> MessageKey:
    return message_key(message.channel.id, message.id)


def chat_kind(channel: object) -> ChatKind:
    return (
        ChatKind.PRIVATE if isinstance(channel, discord.DMChannel | discord.GroupChannel) else ChatKind.GROUP
    )


def _mime(attachment: discord.Attachment) -> str:
    """The attachment's media type without parameters (``image/png; charset=…``), lower case."""
    return (attachment.content_type or "").split(";")[0].strip().lower()


def is_picture(attachment: discord.Attachment) -> bool:
    mime = _mime(attachment)
    if mime:
        return is_picture_type(mime)
    return attachment.filename.lower().endswith(PICTURE_EXTENSIONS)


def unsupported_kind(message: discord.Message) -> str | None:
    """What the message carries that is not a picture, as a message-catalog kind."""
    if any(is_picture(attachment) for attachment in message.attachments):
        return None
    if message.stickers:
        return "sticker"
    return _attachment_kind(message.attachments[0]) if message.attachments else None


def image_input(attachment: discord.Attachment, source: MessageKey | None) -> ImageInput:
    """The attachment with what Discord says of it, so the engine can refuse it unfetched."""
    return ImageInput(
        _loader(attachment),
        _mime(attachment) or None,
        source,
        size=attachment.size,
        width=attachment.width,
        height=attachment.height,
    )


def _loader(attachment: discord.Attachment) -> Callable[[], Awaitable[bytes]]:
    async def load() -> bytes:
        # No need to fetch what the image API would refuse.
        if attachment.size > MAX_INPUT_BYTES:
            raise download_too_large(attachment.size, MAX_INPUT_BYTES)
        try:
            return await attachment.read()
        except discord.HTTPException as error:
            raise InputError(f"download failed: {error}", key="download_failed") from error

    return load


class MessageReader:
    """Builds the Inbound for a gateway message, knowing who the bot is."""

    def __init__(self, bot_id: int) -> None:
        self.bot_id = bot_id
        self._mention = re.compile(rf"<@!?{bot_id}>")

    def mentions_bot(self, message: discord.Message) -> bool:
        if any(user.id == self.bot_id for user in message.mentions) and self._mention.search(message.content):
            return True
        role = message.guild.self_role if message.guild is not None else None
        return role is not None and role in message.role_mentions

    def clean_text(self, message: discord.Message) -> str:
        text = self._mention.sub(" ", message.content)
        role = message.guild.self_role if message.guild is not None else None
        if role is not None:
            text = text.replace(role.mention, " ")
        return " ".join(text.split())

    def build(self, message: discord.Message, replied: discord.Message | None) -> Inbound | None:
        """A user's message; ``replied``: the one it replies to, when it could be had. None: not for us."""
        key = key_of(message)
        images = tuple(image_input(a, key) for a in message.attachments if is_picture(a))
        reference = message.reference
        reply_to = None
        if reference is not None and reference.message_id is not None:
            reply_to = message_key(reference.channel_id, reference.message_id)
        guild = message.guild
        inbound = Inbound(
            key=key,
            wording=WORDING,
            user_id=str(message.author.id),
            user_name=message.author.display_name,
            chat_kind=chat_kind(message.channel),
            text=visible(self.clean_text(message)),
            locale=str(guild.preferred_locale) if guild is not None else None,
            images=images,
            reply_to=reply_to,
            addressed=self.mentions_bot(message),
            chat_admin=guild is None or _can_manage(message.channel, message.author),
            unsupported=None if images else unsupported_kind(message),
        )
        if reply_to is not None and replied is not None:
            inbound = with_reply(inbound, replied_message(replied, reply_to, self.bot_id))
        if not inbound.text and not inbound.images and inbound.unsupported is None:
            return None
        return inbound


def replied_message(message: discord.Message, key: MessageKey, bot_id: int) -> Replied:
    """``message``, replied to (as ``key``) or picked in its Apps menu."""
    return Replied(
        key,
        str(message.author.id),
        by_bot=message.author.id == bot_id,
        pictures=tuple(image_input(a, key_of(message)) for a in message.attachments if is_picture(a)),
        turn=turn_of_buttons(message),
        image=picture_index(message),
    )


def turn_of_buttons(message: discord.Message) -> int | None:
    """The turn the buttons of one of our pictures name (only the bot can put them there)."""
    for row in message.components:
        for child in getattr(row, "children", ()):
            parsed = parse(getattr(child, "custom_id", None))
            if isinstance(parsed, ActionButton):
                return parsed.turn_id
    return None


def picture_index(message: discord.Message) -> int:
    """Which of a turn's pictures one of our messages shows: each goes as ``redraw-<n>…``."""
    for attachment in message.attachments:
        match = re.match(r"redraw-(\d+)", attachment.filename)
        if match:
            return int(match.group(1)) - 1
    return 0


def _can_manage(channel: object, member: discord.abc.User) -> bool:
    if not isinstance(member, discord.Member) or not isinstance(channel, discord.abc.GuildChannel):
        return False
    return channel.permissions_for(member).manage_channels


def interaction_locale(interaction: discord.Interaction) -> str:
    """The user's client language, else the guild's."""
    return str(interaction.locale or interaction.guild_locale or "en-US")


def interaction_inbound(
    interaction: discord.Interaction,
    key: MessageKey,
    command: str,
    *,
    text: str = "",
    attachments: Sequence[discord.Attachment] = (),
    params: Mapping[str, str] | None = None,
    reply_to: MessageKey | None = None,
) -> Inbound:
    """The Inbound for an application command, answered in its (deferred) response ``key``."""
    unsupported = next((_attachment_kind(a) for a in attachments if not is_picture(a)), None)
    return Inbound(
        key=key,
        wording=WORDING,
        user_id=str(interaction.user.id),
        user_name=interaction.user.display_name,
        chat_kind=ChatKind.GROUP if interaction.guild_id else ChatKind.PRIVATE,
        text=visible(text),
        locale=interaction_locale(interaction),
        images=() if unsupported else tuple(image_input(a, None) for a in attachments),
        reply_to=reply_to,
        command=command,
        addressed=True,
        chat_admin=interaction.guild_id is None or interaction.permissions.manage_channels,
        unsupported=unsupported,
        params=dict(params or {}),
    )


def _attachment_kind(attachment: discord.Attachment) -> str:
    mime = _mime(attachment)
    if mime.startswith("video/"):
        return "video"
    if mime.startswith("audio/"):
        return "voice" if attachment.is_voice_message() else "audio"
    return "file"
