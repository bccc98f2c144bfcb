"""The engine's :class:`~bot.engine.inbound.Channel` on Telegram.

Everything the bot says replies to the user's message (or stands alone when that
message is gone). Telegram's limits are met here: a picture over 10 MB or beyond
the photo side limits goes as a JPEG preview (the original stays one button away,
as a document); captions are cut to 1024 characters and texts split at 4096;
several pictures go as albums of up to ten, with the buttons on a message below;
progress edits come at most every few seconds.

Groups get fewer progress edits: Telegram allows a bot about 20 messages a minute
per group, edits and chat actions included (PTB's AIORateLimiter enforces it by
making later calls wait). Editing every 5 s would alone use that up, and the
picture itself would queue behind the edits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from telegram import Bot, InlineKeyboardMarkup, InputFile, InputMediaPhoto, Message, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError

from adapters.telegram_adapter.inbound import key_of
from adapters.telegram_adapter.keyboards import action_keyboard, settings_keyboard, settings_text
from adapters.text import cut, split_text
from bot import imaging
from bot.engine.inbound import Action, OutgoingImage, SettingsView
from bot.engine.records import MessageKey
from bot.messages import render
from bot.offload import run_cpu
from bot.types import MIME_EXTENSIONS

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000  # width + height
MAX_PHOTO_RATIO = 20
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_ALBUM = 10
# Telegram shows photos at up to 2560 px: a larger preview only costs upload time.
PREVIEW_SIDE = 2560
PROGRESS_PREVIEW_SIDE = 768


def fits_photo(image: OutgoingImage) -> bool:
    width, height = image.width, image.height
    return (
        len(image.data) <= MAX_PHOTO_BYTES
        and width + height <= MAX_PHOTO_SIDES
        and max(width, height) <= MAX_PHOTO_RATIO * max(1, min(width, height))
    )


def _reply(key: MessageKey) -> ReplyParameters | None:
    if not key.message_id:
        return None
    # If the user deleted their message meanwhile, the answer still arrives.
    return ReplyParameters(int(key.message_id), allow_sending_without_reply=True)


@dataclass
class _Progress:
    """What stands on screen for one progress key: a text message, or a photo once a
    partial preview has arrived (Telegram can't turn a text message into a photo)."""

    chat_id: int
    reply_to: ReplyParameters | None
    message_id: int
    markup: InlineKeyboardMarkup | None
    photo: bool = False
    last_edit: float = field(default_factory=time.monotonic)
    pending_preview: bytes | None = None
    # Messages replaced by the current one and not yet deleted.
    stale: list[int] = field(default_factory=list)


def _is_group(chat_id: int) -> bool:
    return chat_id < 0


class TelegramChannel:
    def __init__(
        self, bot: Bot, *, progress_interval_s: float = 5.0, group_progress_interval_s: float = 15.0
    ) -> None:
        self.bot = bot
        self.progress_interval_s = progress_interval_s
        # In a group, per picture in progress there: two at once edit every 30 s each.
        self.group_progress_interval_s = group_progress_interval_s
        self._progress: dict[MessageKey, _Progress] = {}

    def _interval(self, chat_id: int) -> float:
        if not _is_group(chat_id):
            return self.progress_interval_s
        active = sum(1 for state in self._progress.values() if state.chat_id == chat_id)
        return max(self.progress_interval_s, self.group_progress_interval_s * active)

    # --- progress -------------------------------------------------------------

    async def show_progress(self, reply_to: MessageKey, text: str, actions: Sequence[Action]) -> MessageKey:
        chat_id = int(reply_to.chat_id)
        await self._chat_action(chat_id)
        markup = action_keyboard(actions)
        reply = _reply(reply_to)
        sent = await self.bot.send_message(chat_id, text, reply_parameters=reply, reply_markup=markup)
        key = key_of(sent)
        self._progress[key] = _Progress(chat_id, reply, sent.message_id, markup)
        return key

    async def update_progress(self, progress: MessageKey, text: str, preview: bytes | None = None) -> None:
        state = self._progress.get(progress)
        if state is None:
            return
        if time.monotonic() - state.last_edit < self._interval(state.chat_id):
            # Too soon for another edit; a preview waits for the next one.
            state.pending_preview = preview or state.pending_preview
            return
        preview, state.pending_preview = preview or state.pending_preview, None
        state.last_edit = time.monotonic()
        try:
            if not _is_group(state.chat_id):
                # The action lasts 5 s; in groups, the one shown at the start must do.
                await self._chat_action(state.chat_id)
            if preview is not None:
                await self._show_preview(state, text, preview)
            elif state.photo:
                await self.bot.edit_message_caption(
                    state.chat_id, state.message_id, caption=text, reply_markup=state.markup
                )
            else:
                await self.bot.edit_message_text(
                    text, state.chat_id, state.message_id, reply_markup=state.markup
                )
        except TelegramError as error:
            # Progress is a courtesy: a failed edit must never fail the drawing.
            if "not modified" not in str(error):
                log.warning("could not update progress message %s: %s", state.message_id, error)

    async def _show_preview(self, state: _Progress, text: str, preview: bytes) -> None:
        jpeg = await run_cpu(imaging.jpeg_preview, preview, PROGRESS_PREVIEW_SIDE, 80)
        if state.photo:
            # Raw bytes, not an InputFile: PTB then attaches the upload to the media by name.
            await self.bot.edit_message_media(
                InputMediaPhoto(jpeg, caption=text, filename="preview.jpg"),
                state.chat_id,
                state.message_id,
                reply_markup=state.markup,
            )
            return
        sent = await self.bot.send_photo(
            state.chat_id,
            InputFile(jpeg, filename="preview.jpg"),
            caption=text,
            reply_parameters=state.reply_to,
            reply_markup=state.markup,
        )
        state.stale.append(state.message_id)
        state.message_id, state.photo = sent.message_id, True
        await self._delete_stale(state)

    async def clear_progress(self, progress: MessageKey) -> None:
        state = self._progress.pop(progress, None)
        if state is None:
            return
        state.stale.append(state.message_id)
        await self._delete_stale(state)

    async def _delete_stale(self, state: _Progress) -> None:
        while state.stale:
            message_id = state.stale[0]
            try:
                await self.bot.delete_message(state.chat_id, message_id)
            except BadRequest as error:
                log.info("progress message %s was already gone: %s", message_id, error)
            state.stale.pop(0)

    async def _chat_action(self, chat_id: int) -> None:
        try:
            await self.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
        except TelegramError as error:
            log.info("could not show the upload_photo action in %s: %s", chat_id, error)

    # --- results ------------------------------------------------------------------

    async def send_images(
        self, reply_to: MessageKey, images: Sequence[OutgoingImage], caption: str, actions: Sequence[Action]
    ) -> list[MessageKey]:
        chat_id = int(reply_to.chat_id)
        markup = action_keyboard(actions)
        caption = cut(caption, MAX_CAPTION)
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
            preview = await run_cpu(imaging.jpeg_preview, image.data, PREVIEW_SIDE)
            return await self.bot.send_photo(
                chat_id,
                InputFile(preview, filename="preview.jpg"),
                caption=caption,
                reply_parameters=reply,
                reply_markup=markup,
            )

    @staticmethod
    async def _photo_upload(image: OutgoingImage, index: int) -> tuple[bytes, str]:
        """The bytes to upload as a photo, and their file name."""
        if fits_photo(image):
            extension = MIME_EXTENSIONS.get(image.mime, "png")
            return image.data, f"redraw-{index + 1}.{extension}"
        # Too large for a photo: a JPEG preview (the 📎 Original button sends the file).
        preview = await run_cpu(imaging.jpeg_preview, image.data, PREVIEW_SIDE)
        return preview, f"redraw-{index + 1}-preview.jpg"

    # --- text, files, settings ------------------------------------------------------

    async def send_text(self, reply_to: MessageKey, text: str, actions: Sequence[Action] = ()) -> MessageKey:
        chat_id = int(reply_to.chat_id)
        parts = split_text(text, MAX_TEXT)
        sent: Message | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sent = await self.bot.send_message(
                chat_id,
                part,
                reply_parameters=_reply(reply_to) if index == 0 else None,
                reply_markup=action_keyboard(actions) if last else None,
            )
        assert sent is not None
        return key_of(sent)

    async def send_file(
        self, reply_to: MessageKey, data: bytes, filename: str, mime: str, locale: str | None = None
    ) -> MessageKey:
        caption = None
        if len(data) > MAX_DOCUMENT_BYTES:
            # Beyond what a bot may upload: the best JPEG that fits instead, saying so.
            log.warning(
                "original %s is %d bytes, over Telegram's 50 MB; sending it as JPEG", filename, len(data)
            )
            caption = render(
                "original_too_large",
                locale,
                size_mb=f"{len(data) / 2**20:.1f}",
                limit_mb=MAX_DOCUMENT_BYTES // 2**20,
            )
            data = await run_cpu(imaging.jpeg_preview, data, None, 95)
            filename = f"{filename.rsplit('.', 1)[0]}.jpg"
        sent = await self.bot.send_document(
            int(reply_to.chat_id),
            InputFile(data, filename=filename),
            caption=caption,
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
