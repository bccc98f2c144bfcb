"""The engine's :class:`~bot.engine.seams.Channel` on Telegram.

Everything the bot says replies to the user's message (or stands alone when that
message is gone). Telegram's limits are met here: a picture over 10 MB or beyond
the photo side limits goes as a JPEG preview (the original stays one button away,
as a document); captions are cut to 1024 characters and texts split at 4096;
several pictures go as albums of up to ten, with the buttons on a message below.

Telegram's flood limits are spent on results first (:mod:`.pacing`). A picture
costs one message: itself. A slow one shows a status message first, which the
picture (or the error) then takes the place of in one call: ``editMessageMedia``
turns the text message into the photo. Status updates wait for room after results
and only the latest is sent (:mod:`adapters.progress`). No chat action: the status
message shows the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from telegram import InlineKeyboardMarkup, InputFile, InputMediaPhoto, Message, ReplyParameters
from telegram.error import BadRequest
from telegram.ext import ExtBot

from adapters.pacing import Pacer, Priority, Ticket
from adapters.progress import Background, Boards, StatusMessage
from adapters.telegram_adapter.inbound import key_of
from adapters.telegram_adapter.keyboards import action_keyboard, settings_keyboard, settings_text
from adapters.text import cut, send_pieces, split_text
from adapters.uploads import JpegSteps, original_upload, picture_upload
from bot.engine.records import MessageKey
from bot.engine.seams import Action, OutgoingImage, Progress, SettingsView
from bot.images import imaging
from bot.images.offload import run_cpu

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000  # width + height
MAX_PHOTO_RATIO = 20
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
# An original beyond what a bot may upload: one JPEG at its own size.
ORIGINAL_JPEG: JpegSteps = ((None, 95),)
MAX_ALBUM = 10
# Telegram shows photos at up to 2560 px: a larger preview only costs upload time.
PREVIEW_SIDE = 2560
# Cancel buttons on a group's board (two a row); pictures past them are cancelled with /cancel.
MAX_BOARD_BUTTONS = 20

Bot = ExtBot[Ticket]


def fits_photo(image: OutgoingImage) -> bool:
    width, height = image.width, image.height
    return (
        len(image.data) <= MAX_PHOTO_BYTES
        and width + height <= MAX_PHOTO_SIDES
        and max(width, height) <= MAX_PHOTO_RATIO * max(1, min(width, height))
    )


async def _preview(data: bytes) -> bytes:
    return await run_cpu(imaging.jpeg_preview, data, PREVIEW_SIDE)


def _is_group(chat_id: int) -> bool:
    return chat_id < 0


def _reply(key: MessageKey) -> ReplyParameters | None:
    if not key.message_id:
        return None
    # If the user deleted their message meanwhile, the answer still arrives.
    return ReplyParameters(int(key.message_id), allow_sending_without_reply=True)


class _Status(StatusMessage):
    """A status message: text, or a photo once a partial preview arrived."""

    def __init__(self, channel: TelegramChannel, reply_to: MessageKey, actions: Sequence[Action]) -> None:
        super().__init__(channel.pacer, channel.background, actions)
        self.channel = channel
        self.bot = channel.bot
        self.chat_id = int(reply_to.chat_id)
        self.reply = _reply(reply_to)

    async def create(
        self, text: str, preview: bytes | None, actions: Sequence[Action], ticket: Ticket
    ) -> MessageKey:
        markup = action_keyboard(actions)
        if preview is None:
            sent = await self.bot.send_message(
                self.chat_id, text, reply_parameters=self.reply, reply_markup=markup, rate_limit_args=ticket
            )
        else:
            sent = await self.bot.send_photo(
                self.chat_id,
                InputFile(preview, filename="preview.jpg"),
                caption=text,
                reply_parameters=self.reply,
                reply_markup=markup,
                rate_limit_args=ticket,
            )
        return key_of(sent)

    async def edit(self, text: str, preview: bytes | None, actions: Sequence[Action], ticket: Ticket) -> None:
        assert self.key is not None
        message_id = int(self.key.message_id)
        markup = action_keyboard(actions)
        try:
            if preview is not None:
                # Raw bytes, not an InputFile: PTB then attaches the upload to the media by name.
                # A text message becomes a photo message this way too (Bot API 10).
                await self.bot.edit_message_media(
                    InputMediaPhoto(preview, caption=text, filename="preview.jpg"),
                    self.chat_id,
                    message_id,
                    reply_markup=markup,
                    rate_limit_args=ticket,
                )
            elif self.photo:
                await self.bot.edit_message_caption(
                    self.chat_id, message_id, caption=text, reply_markup=markup, rate_limit_args=ticket
                )
            else:
                await self.bot.edit_message_text(
                    text, self.chat_id, message_id, reply_markup=markup, rate_limit_args=ticket
                )
        except BadRequest as error:
            if "not modified" not in str(error):
                raise

    async def delete(self, ticket: Ticket) -> None:
        assert self.key is not None
        await self.channel.delete(self.key, ticket)

    async def close(self, *, keep: bool) -> MessageKey | None:
        key = await super().close(keep=keep)
        if key is not None:
            self.channel._handed[key] = self.photo
        return key


# The versions page's address for the chat of a message, bound to whoever alone sees it
# (a private chat's user); None where others see the message too, or without the pages.
VersionsUrl = Callable[[MessageKey, int], str | None]


class TelegramChannel:
    def __init__(self, bot: Bot, pacer: Pacer, versions_url: VersionsUrl | None = None) -> None:
        self.bot = bot
        self.pacer = pacer
        self.versions_url = versions_url
        self.background = Background()
        # Status messages handed to the engine for an answer to take their place: photo or not.
        self._handed: dict[MessageKey, bool] = {}
        # A group's pictures in progress share one message (20 messages a minute is all a group gets).
        self._boards = Boards(lambda chat: _Status(self, chat, ()), limit=MAX_TEXT, buttons=MAX_BOARD_BUTTONS)

    # --- progress -------------------------------------------------------------

    def progress(self, reply_to: MessageKey, actions: Sequence[Action], label: str = "") -> Progress:
        if not _is_group(int(reply_to.chat_id)):
            return _Status(self, reply_to, actions)
        return self._boards.line(reply_to, actions, label)

    async def delete(self, key: MessageKey, ticket: Ticket | None = None) -> None:
        try:
            await self.bot.delete_message(
                int(key.chat_id), int(key.message_id), rate_limit_args=ticket or Ticket(Priority.CLEANUP)
            )
        except BadRequest as error:
            log.info("message %s was already gone: %s", key.message_id, error)

    def _replaced(self, key: MessageKey | None) -> bool | None:
        """Whether the status message ``key`` shows a photo; None without one."""
        if key is None:
            return None
        return self._handed.pop(key, False)

    def _remove_later(self, key: MessageKey) -> None:
        """A status message the answer could not take the place of: removed after results."""
        self.background.spawn(self.delete(key))

    # --- results ------------------------------------------------------------------

    def _keyboard(self, reply_to: MessageKey, actions: Sequence[Action]) -> InlineKeyboardMarkup | None:
        versions_url = self.versions_url
        if versions_url is None:
            return action_keyboard(actions)
        return action_keyboard(actions, lambda action: versions_url(reply_to, action.turn_id))

    async def send_images(
        self,
        reply_to: MessageKey,
        images: Sequence[OutgoingImage],
        caption: str,
        actions: Sequence[Action],
        *,
        replace: MessageKey | None = None,
    ) -> list[MessageKey]:
        chat_id = int(reply_to.chat_id)
        markup = self._keyboard(reply_to, actions)
        caption = cut(caption, MAX_CAPTION)
        # Text or a preview, a status message can become the photo.
        self._replaced(replace)
        if (
            replace is not None
            and len(images) == 1
            and await self._photo_into(replace, images[0], caption, markup)
        ):
            return [replace]
        if replace is not None:
            # An album can't take a message's place: the status goes once the pictures are there.
            self._remove_later(replace)
        if len(images) == 1:
            sent = await self._send_photo(chat_id, images[0], caption, _reply(reply_to), markup)
            return [key_of(sent)]
        keys: list[MessageKey] = []
        for start in range(0, len(images), MAX_ALBUM):
            batch = images[start : start + MAX_ALBUM]
            if len(batch) == 1:
                keys.append(key_of(await self._send_photo(chat_id, batch[0], "", _reply(reply_to), None)))
                continue
            media = []
            for index, image in enumerate(batch):
                data, filename = await self._photo_upload(image, start + index)
                media.append(InputMediaPhoto(data, filename=filename))
            album = await self.bot.send_media_group(chat_id, media, reply_parameters=_reply(reply_to))
            keys += [key_of(message) for message in album]
        # An album can't carry buttons: they go on a message just below it (its key comes last).
        buttons = await self.bot.send_message(
            chat_id, caption or "⬆️", reply_parameters=_reply(keys[0]), reply_markup=markup
        )
        return [*keys, key_of(buttons)]

    async def _send_photo(
        self,
        chat_id: int,
        image: OutgoingImage,
        caption: str,
        reply: ReplyParameters | None,
        markup: InlineKeyboardMarkup | None,
    ) -> Message:
        data, filename = await self._photo_upload(image, 0)
        try:
            return await self.bot.send_photo(
                chat_id,
                InputFile(data, filename=filename),
                caption=caption,
                reply_parameters=reply,
                reply_markup=markup,
            )
        except BadRequest as error:
            # Telegram judged it differently (dimensions, decoding): a preview always fits.
            log.warning("photo refused (%s); sending a JPEG preview instead", error)
            preview = await _preview(image.data)
            return await self.bot.send_photo(
                chat_id,
                InputFile(preview, filename="preview.jpg"),
                caption=caption,
                reply_parameters=reply,
                reply_markup=markup,
            )

    async def _photo_into(
        self, key: MessageKey, image: OutgoingImage, caption: str, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """Turn the status message ``key`` (text or a preview) into the picture, in one call."""
        data, filename = await self._photo_upload(image, 0)
        try:
            await self.bot.edit_message_media(
                InputMediaPhoto(data, caption=caption, filename=filename),
                int(key.chat_id),
                int(key.message_id),
                reply_markup=markup,
            )
        except BadRequest as error:
            # Gone, or judged differently (dimensions): a new photo then, with its own fallback.
            log.warning("could not turn status message %s into the picture: %s", key.message_id, error)
            return False
        return True

    @staticmethod
    async def _photo_upload(image: OutgoingImage, index: int) -> tuple[bytes, str]:
        """The bytes to upload as a photo, and their file name."""
        return await picture_upload(image, index, fits_photo(image), _preview)

    # --- text, files, settings ------------------------------------------------------

    async def send_text(
        self,
        reply_to: MessageKey,
        text: str,
        actions: Sequence[Action] = (),
        *,
        replace: MessageKey | None = None,
    ) -> MessageKey:
        chat_id = int(reply_to.chat_id)
        parts = split_text(text, MAX_TEXT)
        photo = self._replaced(replace)
        if replace is not None and not photo and len(parts) == 1:
            try:
                await self.bot.edit_message_text(
                    text, chat_id, int(replace.message_id), reply_markup=self._keyboard(reply_to, actions)
                )
                return replace
            except BadRequest as error:
                log.warning("could not turn status message %s into the answer: %s", replace.message_id, error)
        if replace is not None:
            # A photo can't become text: the answer comes as a message, and the status goes.
            self._remove_later(replace)

        async def send(part: str, first: bool, last: bool) -> Message:
            return await self.bot.send_message(
                chat_id,
                part,
                reply_parameters=_reply(reply_to) if first else None,
                reply_markup=self._keyboard(reply_to, actions) if last else None,
            )

        return key_of(await send_pieces(parts, send))

    async def send_file(
        self, reply_to: MessageKey, data: bytes, filename: str, mime: str, locale: str | None = None
    ) -> MessageKey:
        original = await original_upload(data, filename, MAX_DOCUMENT_BYTES, locale, ORIGINAL_JPEG)
        sent = await self.bot.send_document(
            int(reply_to.chat_id),
            InputFile(original.data, filename=original.filename),
            caption=original.note,
            reply_parameters=_reply(reply_to),
            disable_content_type_detection=True,
        )
        return key_of(sent)

    async def send_settings(self, reply_to: MessageKey, view: SettingsView) -> MessageKey:
        sent = await self.bot.send_message(
            int(reply_to.chat_id),
            settings_text(view),
            reply_parameters=_reply(reply_to),
            reply_markup=settings_keyboard(view),
        )
        return key_of(sent)

    async def edit_settings(self, message: MessageKey, view: SettingsView) -> None:
        """Show a settings message's new state in place."""
        try:
            await self.bot.edit_message_text(
                settings_text(view),
                int(message.chat_id),
                int(message.message_id),
                reply_markup=settings_keyboard(view),
            )
        except BadRequest as error:
            if "not modified" not in str(error):
                raise
