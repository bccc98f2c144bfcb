"""Inline mode on Telegram: ``@yourbot a red fox`` in any chat offers "🎨 Draw this";
choosing it posts a placeholder that becomes the picture.

An inline message belongs to no chat the bot is in: Telegram names it by an
``inline_message_id`` alone, edits it only through that id, and sends no message id,
chat or replies for it. Redraw gives each inline message a chat of its own:
``MessageKey("telegram", "inline:<inline_message_id>", "<inline_message_id>")``. So it
is both the inbound (the chosen result, claimed once by its update id) and the place
every answer goes, the turn lives in it, and a button pressed on it (Telegram's callback
names the inline message) acts only on the turns drawn there: callback data forged to
name another chat's turn is refused by the engine, said to the presser alone.

:class:`InlineChannel` answers there. Progress and texts edit the message's text (its
caption once it shows a picture). A picture can't be uploaded into an inline message:
``editMessageMedia`` takes a ``file_id`` or a URL. The picture is therefore sent once
where the bot may post, for its file id: the chat ``REDRAW_TELEGRAM_FILE_CHAT`` names
(kept there), else the private chat of the user who chose the result or pressed the
button (deleted at once; it needs the user to have started the bot). 📎 Original goes to
the presser's private chat. Of several pictures (🎲 Variations) the message shows the
first. :class:`RoutingChannel` sends each key to the channel that can answer it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from telegram import (
    CallbackQuery,
    ChosenInlineResult,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputFile,
    InputMediaPhoto,
    InputTextMessageContent,
)
from telegram.error import BadRequest, TelegramError

from adapters.buttons import ActionButton, parse
from adapters.pacing import Pacer, Ticket
from adapters.progress import Background, StatusMessage
from adapters.telegram_adapter.channel import PREVIEW_SIDE, Bot, TelegramChannel, fits_photo
from adapters.telegram_adapter.inbound import key_of
from adapters.telegram_adapter.keyboards import Page, action_keyboard, press_data, settings_text
from adapters.text import cut
from bot.engine.records import MessageKey
from bot.engine.seams import (
    Action,
    ActionKind,
    ActionPress,
    ChatKind,
    Inbound,
    OutgoingImage,
    Progress,
    SettingsView,
)
from bot.engine.store import Store
from bot.images import imaging
from bot.images.offload import run_cpu
from bot.images.validation import visible
from bot.messages import render

log = logging.getLogger(__name__)

# Buttons of a picture that need a chat to answer in (an inline message has none).
CHAT_ONLY = (ActionKind.REGION, ActionKind.VERSIONS)
# What they become with the web pages.
PAGES: dict[ActionKind, Page] = {ActionKind.REGION: "paint", ActionKind.VERSIONS: "versions"}

PREFIX = "inline:"
MAX_TEXT = 4096
MAX_CAPTION = 1024
# The placeholder's button until the turn exists: pressing it does nothing.
WAIT_DATA = "i:wait"
RESULT_ID = "draw"
# Inline messages remembered (who may make file ids, which show a picture); the oldest go first.
REMEMBERED = 10_000


def inline_key(inline_message_id: str) -> MessageKey:
    return MessageKey("telegram", PREFIX + inline_message_id, inline_message_id)


def is_inline(key: MessageKey) -> bool:
    return key.chat_id.startswith(PREFIX)


def draw_result(query: InlineQuery) -> list[InlineQueryResultArticle]:
    """ "🎨 Draw this" for a query with words; nothing for an empty one."""
    prompt = " ".join(query.query.split())
    if not prompt:
        return []
    locale = query.from_user.language_code
    waiting = InlineKeyboardMarkup(
        [[InlineKeyboardButton(render("button_cancel", locale), callback_data=WAIT_DATA)]]
    )
    return [
        InlineQueryResultArticle(
            id=RESULT_ID,
            title=render("inline_draw", locale),
            description=prompt[:200],
            input_message_content=InputTextMessageContent(
                cut(f"{prompt}\n{render('progress', locale, elapsed='')}", MAX_TEXT)
            ),
            # Telegram gives the chosen result an inline_message_id only when it has a keyboard.
            reply_markup=waiting,
        )
    ]


def chosen_inbound(chosen: ChosenInlineResult) -> Inbound | None:
    if chosen.inline_message_id is None or chosen.result_id != RESULT_ID:
        return None
    user = chosen.from_user
    return Inbound(
        key=inline_key(chosen.inline_message_id),
        user_id=str(user.id),
        user_name=user.full_name,
        chat_kind=ChatKind.GROUP,
        text=visible(chosen.query),
        locale=user.language_code,
        command="draw",
        addressed=True,
        # An inline message has no /settings of its own: the user's private chat's apply.
        settings_from=("telegram", str(user.id)),
    )


def inline_press(query: CallbackQuery) -> ActionPress | None:
    button = parse(query.data)
    if query.inline_message_id is None or not isinstance(button, ActionButton):
        return None
    return ActionPress(
        button.kind,
        button.turn_id,
        inline_key(query.inline_message_id),
        str(query.from_user.id),
        query.from_user.language_code,
    )


class _InlineStatus(StatusMessage):
    """A picture's status on an inline message: the placeholder itself, edited (never
    created or deleted: the answer takes its place). Text only: a partial preview would
    need a file id of its own."""

    def __init__(self, channel: InlineChannel, reply_to: MessageKey, actions: Sequence[Action]) -> None:
        super().__init__(channel.pacer, channel.background, actions)
        self.channel = channel
        self.reply_to = reply_to

    def show(self, text: str, preview: bytes | None = None, actions: Sequence[Action] | None = None) -> None:
        super().show(text, None, actions)

    async def create(
        self, text: str, preview: bytes | None, actions: Sequence[Action], ticket: Ticket
    ) -> MessageKey:
        # The placeholder is on screen already: its first status is an edit.
        await self.channel._edit(self.reply_to, text, actions, ticket)
        return self.reply_to

    async def edit(self, text: str, preview: bytes | None, actions: Sequence[Action], ticket: Ticket) -> None:
        await self.channel._edit(self.reply_to, text, actions, ticket)

    async def delete(self, ticket: Ticket) -> None:
        # The placeholder stays: the picture or the answer is edited into it.
        return


async def shown_in_chat(store: Store, key: MessageKey, turn_id: int) -> bool:
    """Whether the inline message ``key`` belongs to the chat it names: one the bot stored
    there, or turn ``turn_id``'s placeholder. Callback data is the client's to forge (a bad
    client can send any): a chat named in it is believed only when storage agrees."""
    if await store.sent_message(key) is not None:
        return True
    turn = await store.get_turn(turn_id)
    return turn is not None and turn.inbound == key


class OneAtATime:
    """Presses on one inline message handled one after another: each press's answer is the
    query :attr:`InlineChannel.pending` holds, so a second tap must wait for the first."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: collections.Counter[str] = collections.Counter()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]


class InlineChannel:
    """The engine's Channel for inline messages (see the module's text)."""

    def __init__(self, bot: Bot, pacer: Pacer, *, file_chat: int | None = None, pages: bool = False) -> None:
        self.bot = bot
        # REDRAW_PUBLIC_URL is set: ✏️ and 🌳 lead to the web pages by the presser's private chat.
        self.pages = pages
        self.pacer = pacer
        self.background = Background()
        self.file_chat = file_chat
        # Whose private chat may turn a picture into a file id: the chooser, then the latest presser.
        self.users: dict[str, list[int]] = {}
        # Inline messages showing a picture (edited by caption, not text).
        self.pictures: dict[str, None] = {}
        # A press being handled: what the engine says to the presser alone goes in its answer.
        self.pending: dict[str, CallbackQuery] = {}
        self.pressing = OneAtATime()

    def user(self, inline_message_id: str, user_id: int) -> None:
        users = self.users.pop(inline_message_id, [])
        if user_id in users:
            users.remove(user_id)
        users.insert(0, user_id)
        del users[3:]
        self.users[inline_message_id] = users
        while len(self.users) > REMEMBERED:
            del self.users[next(iter(self.users))]

    def keyboard(self, key: MessageKey, actions: Sequence[Action]) -> InlineKeyboardMarkup | None:
        """The buttons of the inline message ``key`` (guest messages name their chat in them)."""
        return action_keyboard(actions)

    async def _edit(
        self, key: MessageKey, text: str, actions: Sequence[Action], ticket: Ticket | None = None
    ) -> None:
        markup = self.keyboard(key, actions)
        imid = key.message_id
        try:
            if imid in self.pictures:
                await self.bot.edit_message_caption(
                    inline_message_id=imid,
                    caption=cut(text, MAX_CAPTION),
                    reply_markup=markup,
                    rate_limit_args=ticket,
                )
            else:
                await self.bot.edit_message_text(
                    cut(text, MAX_TEXT), inline_message_id=imid, reply_markup=markup, rate_limit_args=ticket
                )
        except BadRequest as error:
            if "no text in the message" in str(error):
                # A picture this process does not remember showing (it restarted): its caption.
                self.pictures[imid] = None
                await self.bot.edit_message_caption(
                    inline_message_id=imid,
                    caption=cut(text, MAX_CAPTION),
                    reply_markup=markup,
                    rate_limit_args=ticket,
                )
            elif "not modified" not in str(error):
                raise

    def progress(self, reply_to: MessageKey, actions: Sequence[Action], label: str = "") -> Progress:
        # The inline message is a chat of its own: its status is the placeholder, edited.
        return _InlineStatus(self, reply_to, actions)

    async def send_images(
        self,
        reply_to: MessageKey,
        images: Sequence[OutgoingImage],
        caption: str,
        actions: Sequence[Action],
        *,
        replace: MessageKey | None = None,
    ) -> list[MessageKey]:
        # ``replace``, if any, is the placeholder itself: the picture always goes into it.
        imid = reply_to.message_id
        file_id = await self._file_id(imid, images[0])
        await self.bot.edit_message_media(
            InputMediaPhoto(file_id, caption=cut(caption, MAX_CAPTION)),
            inline_message_id=imid,
            reply_markup=self._picture_keyboard(reply_to, actions),
        )
        self.pictures[imid] = None
        while len(self.pictures) > REMEMBERED:
            del self.pictures[next(iter(self.pictures))]
        return [reply_to]

    def _picture_keyboard(self, key: MessageKey, actions: Sequence[Action]) -> InlineKeyboardMarkup | None:
        """A picture's buttons. A grid or a versions sheet needs a chat to be sent in: an
        inline message has none, so ✏️ and 🌳 are offered only as the web pages, reached
        through the presser's private chat (adapters/telegram_adapter/painter.py)."""
        markup = self.keyboard(key, [action for action in actions if action.kind not in CHAT_ONLY])
        pages = [
            InlineKeyboardButton(action.label, callback_data=press_data(PAGES[action.kind], action.turn_id))
            for action in actions
            if self.pages and action.kind in PAGES
        ]
        if not pages:
            return markup
        return InlineKeyboardMarkup([*(markup.inline_keyboard if markup else ()), pages])

    async def _file_id(self, imid: str, image: OutgoingImage) -> str:
        """The picture sent where the bot may post, for the file id an inline message takes."""
        data, filename = image.data, "redraw-1.png"
        if not fits_photo(image):
            data, filename = (
                await run_cpu(imaging.jpeg_preview, image.data, PREVIEW_SIDE),
                "redraw-1-preview.jpg",
            )
        places = ([self.file_chat] if self.file_chat is not None else []) + self.users.get(imid, [])
        error: TelegramError | None = None
        for chat_id in places:
            try:
                sent = await self.bot.send_photo(chat_id, InputFile(data, filename=filename))
            except TelegramError as failed:
                log.info("could not send the picture to %s for its file id: %s", chat_id, failed)
                error = failed
                continue
            assert sent.photo
            if chat_id != self.file_chat:
                # Only a means to an end in the user's private chat.
                try:
                    await sent.delete()
                except TelegramError as failed:
                    log.info("could not delete the file-id copy in %s: %s", chat_id, failed)
            return sent.photo[-1].file_id
        raise error or TelegramError(
            "no chat to turn the picture into a file id: set REDRAW_TELEGRAM_FILE_CHAT"
        )

    async def send_text(
        self,
        reply_to: MessageKey,
        text: str,
        actions: Sequence[Action] = (),
        *,
        replace: MessageKey | None = None,
    ) -> MessageKey:
        query = self.pending.pop(reply_to.message_id, None)
        if query is not None and not actions:
            # Said to whoever pressed, not written over everyone's picture.
            await query.answer(cut(text, 200), show_alert=True)
            return reply_to
        await self._edit(reply_to, text, actions)
        return reply_to

    async def send_file(
        self, reply_to: MessageKey, data: bytes, filename: str, mime: str, locale: str | None = None
    ) -> MessageKey:
        users = self.users.get(reply_to.message_id, [])
        if not users:
            raise TelegramError("nobody to send the original to")
        sent = await self.bot.send_document(
            users[0], InputFile(data, filename=filename), disable_content_type_detection=True
        )
        return key_of(sent)

    async def send_settings(self, reply_to: MessageKey, view: SettingsView) -> MessageKey:
        return await self.send_text(reply_to, settings_text(view))


class RoutingChannel:
    """The Channel the Telegram adapter hands the engine: inline keys to :class:`InlineChannel`,
    keys another route claims (guest messages) to its channel, the rest to
    :class:`TelegramChannel` (whose other methods it passes through)."""

    def __init__(
        self,
        plain: TelegramChannel,
        inline: InlineChannel,
        routes: Sequence[tuple[Callable[[MessageKey], bool], InlineChannel]] = (),
    ) -> None:
        self.plain = plain
        self.inline = inline
        self.routes = [(is_inline, inline), *routes]

    def _for(self, key: MessageKey) -> TelegramChannel | InlineChannel:
        return next((channel for owns, channel in self.routes if owns(key)), self.plain)

    def progress(self, reply_to: MessageKey, actions: Sequence[Action], label: str = "") -> Progress:
        return self._for(reply_to).progress(reply_to, actions, label)

    async def send_images(
        self,
        reply_to: MessageKey,
        images: Sequence[OutgoingImage],
        caption: str,
        actions: Sequence[Action],
        *,
        replace: MessageKey | None = None,
    ) -> list[MessageKey]:
        return await self._for(reply_to).send_images(reply_to, images, caption, actions, replace=replace)

    async def send_text(
        self,
        reply_to: MessageKey,
        text: str,
        actions: Sequence[Action] = (),
        *,
        replace: MessageKey | None = None,
    ) -> MessageKey:
        return await self._for(reply_to).send_text(reply_to, text, actions, replace=replace)

    async def send_file(
        self, reply_to: MessageKey, data: bytes, filename: str, mime: str, locale: str | None = None
    ) -> MessageKey:
        return await self._for(reply_to).send_file(reply_to, data, filename, mime, locale)

    async def send_settings(self, reply_to: MessageKey, view: SettingsView) -> MessageKey:
        return await self._for(reply_to).send_settings(reply_to, view)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.plain, name)
