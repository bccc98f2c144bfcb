"""The web pages on Telegram (``REDRAW_PUBLIC_URL`` set): the painter from a region grid,
the versions page after 🌳 and ``/history``.

A link to a page is a bearer credential bound to one user, so it is only ever shown
where that user alone sees it:

- **Private chat**: on the grid, a ``web_app`` button (Telegram opens the painter as a
  Mini App and hands it signed ``initData``, which the server checks against the link's
  user); on the versions sheet itself, a URL button to the versions page (the engine puts
  🌳 All versions on the sheet; :meth:`TelegramPages.versions_url` makes it a link).
- **Groups**: ``web_app`` buttons aren't allowed there, and a URL button would be every
  member's. The button (on the grid, on the sheet) is a callback button (``wp:<turn>``,
  ``wv:<turn>``); pressing it
  answers the query with ``https://t.me/<bot>?start=paint_<turn>`` (or ``versions_``):
  Telegram opens the presser's private chat with the bot, and ``/start paint_<turn>``
  there is answered, once the presser is found to be a member of the picture's chat
  (``getChatMember``), with a ``web_app`` button bound to that group, that user and that
  picture. The painted edit then lands in the group, replying to the picture.

- **Inline and guest messages** (no chat the bot can look into): ✏️ and 🌳 on their
  pictures are the same callback buttons; the start parameter then also carries a MAC
  bound to the presser (``paint_<turn>_<mac>``), and only that user's ``/start`` with it
  gets the page: the result is drawn into the inline message, as a regenerated one is.

A start parameter is anyone's to type: ``/start paint_<turn>`` is checked in full
(the turn exists, is Telegram's, has a picture, the user may use the bot and is in its
chat, or holds the MAC for a chat without members), and refused in the user's language
otherwise; nothing is sent upstream.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re

from telegram import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    WebAppInfo,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ExtBot

from adapters.pacing import Priority, Ticket
from adapters.page_offers import offer
from adapters.telegram_adapter.inline import shown_in_chat
from adapters.telegram_adapter.keyboards import Page, press_data
from adapters.telegram_adapter.members import is_member
from adapters.web.links import page_link
from adapters.web.tokens import signing_key
from bot.app.config import Settings
from bot.engine.entry import Engine
from bot.engine.language import effective
from bot.engine.records import MessageKey
from bot.engine.seams import ChatKind, Inbound
from bot.messages import render

log = logging.getLogger(__name__)

Bot = ExtBot[Ticket]
PLATFORM = "telegram"
_TURN = r"([1-9][0-9]{0,17})"
# Which of a turn's pictures (variations): absent for the first.
_INDEX = r"([1-9][0-9]?)"
# A group's buttons: which page, which picture (no user: the presser is the user).
_PRESS = re.compile(rf"w([pv]):{_TURN}(?:\.{_INDEX})?")
# The deep link's start parameter (Telegram: at most 64 of [A-Za-z0-9_-]), with the MAC
# that binds it to the presser (9 bytes, 12 characters): paint_<turn>[x<index>][_<mac>].
_START = re.compile(rf"(paint|versions)_{_TURN}(?:x{_INDEX})?(?:_([A-Za-z0-9_-]{{12}}))?")
_MAC_BYTES = 9
_CODES: dict[str, Page] = {"p": "paint", "v": "versions"}


def start_parameter(page: Page, turn_id: int, user_id: int, key: bytes, image_index: int = 0) -> str:
    picture = f"{turn_id}x{image_index}" if image_index else str(turn_id)
    return f"{page}_{picture}_{start_mac(page, turn_id, user_id, key, image_index)}"


def start_mac(page: Page, turn_id: int, user_id: int, key: bytes, image_index: int = 0) -> str:
    """Binds a start parameter to the user who pressed the button (the web pages' key)."""
    picture = f"{turn_id}.{image_index}" if image_index else str(turn_id)
    digest = hmac.new(key, f"telegram-start\x00{page}:{picture}:{user_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode("ascii")


class TelegramPages:
    def __init__(self, bot: Bot, engine: Engine, settings: Settings) -> None:
        self.bot = bot
        self.engine = engine
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return self.settings.redraw_public_url is not None

    def _link(
        self,
        page: Page,
        chat_id: str,
        user_id: int,
        turn_id: int,
        locale: str | None,
        *,
        image_index: int = 0,
    ) -> str:
        link = page_link(
            self.settings,
            page,
            platform=PLATFORM,
            chat_id=chat_id,
            user_id=user_id,
            turn_id=turn_id,
            locale=locale,
            image_index=image_index,
        )
        assert link is not None  # enabled
        return link

    # --- the grid ---------------------------------------------------------------------

    async def grid_row(
        self, chat: Chat, user_id: int, turn_id: int, locale: str | None, *, image_index: int = 0
    ) -> list[InlineKeyboardButton]:
        """🖌 under a grid opened by ``user_id``: a Mini App in private, the way round by
        the private chat in groups; nothing without ``REDRAW_PUBLIC_URL``."""
        if not self.enabled:
            return []
        locale = effective(await self.engine.store.user(PLATFORM, str(user_id)), locale)
        label = render("web_paint_button", locale)
        if chat.type == ChatType.PRIVATE:
            link = self._link("paint", str(chat.id), user_id, turn_id, locale, image_index=image_index)
            return [InlineKeyboardButton(label, web_app=WebAppInfo(link))]
        return [InlineKeyboardButton(label, callback_data=press_data("paint", turn_id, image_index))]

    # --- the group buttons ----------------------------------------------------------------

    @staticmethod
    def takes(query: CallbackQuery) -> bool:
        return bool(query.data and _PRESS.fullmatch(query.data))

    async def on_press(self, query: CallbackQuery) -> None:
        """A group's 🖌 or 🌳 All versions: Telegram opens the presser's private chat with the bot."""
        match = _PRESS.fullmatch(query.data or "")
        username = self.bot.username
        try:
            if match is None or not self.enabled or not username:
                await query.answer()
                return
            turn_id = int(match[2])
            if not await self._pressed_on_turn(query, turn_id):
                log.warning("telegram: refused a page button for turn %d on another message", turn_id)
                await query.answer(render("button_other_chat", query.from_user.language_code))
                return
            key = signing_key(self.settings)
            index = int(match[3] or 0)
            parameter = start_parameter(_CODES[match[1]], turn_id, query.from_user.id, key, index)
            await query.answer(url=f"https://t.me/{username}?start={parameter}")
        except TelegramError as error:
            log.info("telegram: could not answer a page button: %s", error)

    async def _pressed_on_turn(self, query: CallbackQuery, turn_id: int) -> bool:
        """The button's turn is one of the pressed message's chat (data is forgeable)."""
        turn = await self.engine.store.get_turn(turn_id)
        if turn is None or turn.platform != PLATFORM:
            return False
        if query.message is not None:
            return turn.chat_id == str(query.message.chat.id)
        if query.inline_message_id is None:
            return False
        key = MessageKey(PLATFORM, turn.chat_id, query.inline_message_id)
        return await shown_in_chat(self.engine.store, key, turn_id)

    # --- /start paint_<turn> in private -----------------------------------------------------

    async def on_start(self, message: Message, inbound: Inbound) -> bool:
        """``/start paint_<turn>`` or ``versions_<turn>`` in a private chat: the page's button
        (True), or a refusal. Anything else is the engine's (False)."""
        if inbound.command != "start" or inbound.chat_kind is not ChatKind.PRIVATE or not self.enabled:
            return False
        argument = inbound.text.strip()
        if not argument.startswith(("paint_", "versions_")):
            return False
        user = message.from_user
        match = _START.fullmatch(argument)
        if user is None:
            return True
        page: Page = "paint" if argument.startswith("paint_") else "versions"
        found = None
        if match is not None:
            found = await offer(
                self.engine,
                PLATFORM,
                str(user.id),
                int(match[2]),
                inbound.locale,
                chat_id=None,
                drawn=page == "paint",
            )
        if found is None:
            await self._say(message, render("turn_missing", inbound.locale))
            return True
        turn, locale = found.turn, found.locale
        assert match is not None
        index = int(match[3] or 0)
        mac = start_mac(page, turn.id, user.id, signing_key(self.settings), index)
        signed = match[4] is not None and hmac.compare_digest(match[4], mac)
        if not await self._member(turn.chat_id, user.id, signed=signed):
            log.info("telegram: refused a %s link of turn %d to a non-member", page, turn.id)
            await self._say(message, render("web_not_member", locale))
            return True
        link = self._link(page, turn.chat_id, user.id, turn.id, locale, image_index=index)
        label = render("web_paint_button" if page == "paint" else "web_versions_button", locale)
        button = (
            InlineKeyboardButton(label, web_app=WebAppInfo(link))
            if page == "paint"
            else InlineKeyboardButton(label, url=link)
        )
        text = render("web_paint_open" if page == "paint" else "web_versions_open", locale)
        await self._say(message, text, InlineKeyboardMarkup([[button]]))
        return True

    async def _member(self, chat_id: str, user_id: int, *, signed: bool) -> bool:
        """The user's own private chat, or a group they are in now; an inline or guest
        message's chat has no members to ask about: the link's MAC must be the user's."""
        try:
            chat = int(chat_id)
        except ValueError:
            return signed
        if chat > 0:
            return chat == user_id
        return await is_member(self.bot, chat, user_id)

    async def _say(
        self, message: MaybeInaccessibleMessage, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        try:
            await self.bot.send_message(
                message.chat.id,
                text,
                reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
                reply_markup=markup,
                rate_limit_args=Ticket(Priority.RESULT),
            )
        except TelegramError as error:
            log.info("telegram: could not answer a page link: %s", error)

    # --- the versions page ------------------------------------------------------------------

    def versions_url(self, reply_to: MessageKey, turn_id: int) -> str | None:
        """🌳 All versions on a versions sheet in ``reply_to``'s chat: in a private chat, the
        page bound to its user (the only one who sees the sheet); None elsewhere, where the
        button goes by the presser's private chat (``wv:<turn>``)."""
        if not self.enabled:
            return None
        try:
            chat = int(reply_to.chat_id)
        except ValueError:
            return None  # an inline or guest message: seen by others
        if chat <= 0:
            return None
        return self._link("versions", str(chat), chat, turn_id, None)
