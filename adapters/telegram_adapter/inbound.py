"""Telegram messages → the engine's neutral :class:`Inbound`.

Everything Telegram-shaped is decided here: who the bot is, what a command or a
mention looks like (entities, counted in UTF-16), which photo size to take, what
an album is, and what counts as a reply (not a forum topic's first message). What a
replied-to picture becomes is the kit's rule (:mod:`adapters.inputs`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import Bot, Chat, Message, MessageEntity
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError

from adapters.buttons import ActionButton, parse
from adapters.inputs import Replied, is_picture_type, with_reply
from bot.engine.records import MessageKey
from bot.engine.seams import ChatKind, ImageInput, Inbound
from bot.errors import InputError, download_too_large
from bot.images.validation import visible

PLATFORM = "telegram"
# Bots may download files up to 20 MB from Telegram's own Bot API server.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024
# Anonymous group admins post as this user, on behalf of the group.
GROUP_ANONYMOUS_BOT = 1087968824


@dataclass(frozen=True)
class BotIdentity:
    id: int
    username: str


@dataclass(frozen=True)
class ParsedText:
    text: str
    command: str | None = None
    mentioned: bool = False
    # "/draw@otherbot": meant for another bot in the group.
    for_another_bot: bool = False


@dataclass(frozen=True)
class ImageRef:
    file_id: str
    file_size: int | None
    mime: str | None
    source: MessageKey
    # A photo's pixels, as Telegram states them (documents state none).
    width: int | None = None
    height: int | None = None


def message_key(chat_id: int, message_id: int) -> MessageKey:
    return MessageKey(PLATFORM, str(chat_id), str(message_id))


def key_of(message: Message) -> MessageKey:
    return message_key(message.chat.id, message.message_id)


def chat_kind(chat: Chat) -> ChatKind:
    return ChatKind.PRIVATE if chat.type == ChatType.PRIVATE else ChatKind.GROUP


def parse_text(text: str, entities: Sequence[MessageEntity], bot: BotIdentity) -> ParsedText:
    """Take the leading command and our own mentions out of ``text``."""
    encoded = text.encode("utf-16-le")
    command: str | None = None
    for_another_bot = False
    mentioned = False
    cuts: list[tuple[int, int]] = []

    def piece(entity: MessageEntity) -> str:
        return encoded[entity.offset * 2 : (entity.offset + entity.length) * 2].decode("utf-16-le")

    for entity in entities:
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            name, _, target = piece(entity)[1:].partition("@")
            command = name.lower()
            for_another_bot = bool(target) and target.lower() != bot.username.lower()
            cuts.append((entity.offset, entity.length))
        elif _is_mention_of(entity, piece(entity), bot):
            mentioned = True
            cuts.append((entity.offset, entity.length))
    kept = bytearray()
    position = 0
    for offset, length in sorted(cuts):
        kept += encoded[position * 2 : offset * 2]
        position = max(position, offset + length)
    kept += encoded[position * 2 :]
    cleaned = " ".join(kept.decode("utf-16-le").split())
    return ParsedText(cleaned, command, mentioned, for_another_bot)


def _is_mention_of(entity: MessageEntity, text: str, bot: BotIdentity) -> bool:
    """``@username``, or a mention by id (``text_mention``, for users without a username)."""
    if entity.type == MessageEntity.MENTION:
        return text.lower() == f"@{bot.username.lower()}"
    return entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == bot.id


def image_ref(message: Message) -> ImageRef | None:
    """The picture in ``message``: its largest photo size, or an image sent as a file."""
    source = key_of(message)
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return ImageRef(
            largest.file_id, largest.file_size, "image/jpeg", source, largest.width, largest.height
        )
    document = message.document
    if document is not None and message.animation is None:
        mime = (document.mime_type or "").lower()
        if is_picture_type(mime):
            return ImageRef(document.file_id, document.file_size, mime, source)
    return None


def unsupported_kind(message: Message) -> str | None:
    """What the message carries that is not a picture, as a message-catalog kind."""
    if image_ref(message) is not None:
        return None
    if message.sticker:
        return "sticker"
    if message.voice:
        return "voice"
    if message.video or message.video_note:
        return "video"
    if message.audio:
        return "audio"
    if message.animation:
        return "animation"
    if message.document:
        return "file"
    if message.effective_attachment is not None:
        return "other"
    return None


class InboundBuilder:
    def __init__(self, bot: Bot, identity: BotIdentity, download_limit: int | None) -> None:
        self.bot = bot
        self.identity = identity
        self.download_limit = download_limit

    def build(self, messages: Sequence[Message]) -> Inbound | None:
        """One message, or the messages of one album (oldest first). None: not for us."""
        first = messages[0]
        # The caption may sit on any item of an album.
        lead = next((m for m in messages if m.text or m.caption), first)
        raw_text = lead.text or lead.caption or ""
        entities = lead.entities if lead.text else lead.caption_entities
        parsed = parse_text(raw_text, entities, self.identity)
        if parsed.for_another_bot:
            return None
        refs = [ref for message in messages if (ref := image_ref(message)) is not None]
        unsupported = None if refs else next(filter(None, map(unsupported_kind, messages)), None)
        if not raw_text and not refs and unsupported is None:
            return None  # a service message: someone joined, a pin, a new title
        user_id, user_name, anonymous_admin = _sender(lead)
        language = lead.from_user.language_code if lead.from_user else None
        inbound = Inbound(
            key=key_of(first),
            user_id=user_id,
            user_name=user_name,
            chat_kind=chat_kind(first.chat),
            text=visible(parsed.text),
            locale=language,
            images=tuple(self._input(ref) for ref in refs),
            command=parsed.command,
            addressed=parsed.mentioned or parsed.command is not None,
            chat_admin=anonymous_admin or first.chat.type == ChatType.PRIVATE,
            unsupported=unsupported,
        )
        replied = next((m.reply_to_message for m in messages if m.reply_to_message), None)
        return with_reply(inbound, self._replied(replied))

    def _replied(self, message: Message | None) -> Replied | None:
        if message is None or _opens_topic(message):
            return None
        user = message.from_user
        ref = image_ref(message)
        return Replied(
            key_of(message),
            str(user.id) if user is not None else None,
            by_bot=user is not None and user.id == self.identity.id,
            pictures=(self._input(ref),) if ref is not None else (),
            turn=_turn_of_buttons(message),
        )

    def _input(self, ref: ImageRef) -> ImageInput:
        """The picture with what Telegram says of it, so the engine can refuse it unfetched."""
        return ImageInput(
            self._loader(ref),
            ref.mime,
            ref.source,
            size=ref.file_size,
            width=ref.width,
            height=ref.height,
            max_bytes=self.download_limit,
        )

    def _loader(self, ref: ImageRef) -> Callable[[], Awaitable[bytes]]:
        async def load() -> bytes:
            if self.download_limit and ref.file_size and ref.file_size > self.download_limit:
                raise download_too_large(ref.file_size, self.download_limit)
            try:
                file = await self.bot.get_file(ref.file_id)
                return bytes(await file.download_as_bytearray())
            except BadRequest as error:
                if "too big" in error.message.lower():
                    raise download_too_large(ref.file_size, TELEGRAM_DOWNLOAD_LIMIT) from error
                raise InputError(f"download failed: {error.message}", key="download_failed") from error
            except TelegramError as error:
                raise InputError(f"download failed: {error.message}", key="download_failed") from error

        return load


def _turn_of_buttons(message: Message) -> int | None:
    """The turn the buttons of one of our pictures name (only the bot can put them there)."""
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            parsed = parse(button.callback_data if isinstance(button.callback_data, str) else None)
            if isinstance(parsed, ActionButton):
                return parsed.turn_id
    return None


def _opens_topic(message: Message) -> bool:
    """In forum groups every message "replies" to its topic's first message: not a real reply."""
    return message.forum_topic_created is not None


def _sender(message: Message) -> tuple[str, str, bool]:
    """(user id, display name, posted anonymously by a group admin)."""
    user = message.from_user
    sender_chat = message.sender_chat
    if sender_chat is not None and (user is None or user.id == GROUP_ANONYMOUS_BOT):
        admin = sender_chat.id == message.chat.id
        return f"chat{sender_chat.id}", sender_chat.title or sender_chat.effective_name or "", admin
    if user is None:
        return "unknown", "", False
    return str(user.id), user.full_name, False
