"""Guest mode on Telegram (Bot API 10.0): someone mentions the bot in a chat it is not a
member of, and the bot answers there without joining.

Telegram sends the mention as a ``guest_message`` carrying a ``guest_query_id``. The bot
answers it once, at once, with ``answerGuestQuery`` and an inline result: the placeholder
"a red fox / 🎨 Drawing…" with ✖ Cancel, in the caller's language. Telegram posts it as an
inline message and names it by its ``inline_message_id`` (a ``SentGuestMessage``); from
then on it is drawn exactly as inline mode draws (:mod:`adapters.telegram_adapter.inline`):
the placeholder is the status, edited, and becomes the picture through a file id.

Where the turns live: every guest message of one chat belongs to one engine chat,
``guest:<chat id>``, and each answer is a message of it keyed by its inline message id:
``MessageKey("telegram", "guest:<chat id>", "<inline_message_id>")``. So a guest message
replying to one of the bot's guest pictures in that chat continues that picture (the
engine finds the turn its buttons name, in the same chat: a chained edit, as in a group),
and the chat's limits and budget are that chat's, not one message's. The buttons name
the chat as well as the turn (``g:<chat id>:a:r:42``): a press names only the inline
message, and must find its chat after a restart, on any instance, with nothing kept. The
bot wrote that data itself, so it can be trusted; the engine still refuses a turn of
another chat. A reply to a picture from anywhere else (an inline-mode picture, another
chat's) brings that picture as an input instead: a restyle of it.

Exactly once: the update is claimed by its id (as every update is), the query by its
``guest_query_id`` before it is answered, and the answer, once Telegram has posted it, is
kept as a reception until its turn exists: a crash in between is picked up by the next
start (it edits the placeholder it finds), never answered twice. Telegram refuses a
second answer to a query anyway.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import BaseHandler, ContextTypes, MessageHandler, filters

from adapters.buttons import ActionButton, action_id, parse
from adapters.pacing import Pacer
from adapters.telegram_adapter.channel import Bot
from adapters.telegram_adapter.inbound import PLATFORM, InboundBuilder, image_ref, key_of
from adapters.telegram_adapter.inline import MAX_TEXT, RESULT_ID, WAIT_DATA, InlineChannel, shown_in_chat
from adapters.text import cut
from bot.app.config import Settings
from bot.engine.records import MessageKey
from bot.engine.seams import Action, ActionKind, ActionPress, ChatKind, Inbound
from bot.engine.store import Reception, Store
from bot.messages import render

log = logging.getLogger(__name__)

PREFIX = "guest:"
DATA_PREFIX = "g:"
# Delivery ids: the query (claimed before it is answered), and its answer (kept until drawn).
QUERY = "guest-query:"
ANSWER = "guest-answer:"


class GuestEngine(Protocol):
    """What guest mode asks of the engine."""

    store: Store

    async def handle(self, inbound: Inbound, channel: Any) -> None: ...

    async def press(self, press: ActionPress, channel: Any) -> None: ...

    async def first_delivery(
        self, platform: str, delivery_id: str, reception: Reception | None = None
    ) -> bool: ...

    async def handled(self, platform: str, delivery_ids: Sequence[str]) -> None: ...


def guest_key(chat_id: int | str, inline_message_id: str) -> MessageKey:
    return MessageKey(PLATFORM, f"{PREFIX}{chat_id}", inline_message_id)


def is_guest(key: MessageKey) -> bool:
    return key.chat_id.startswith(PREFIX)


def button_data(chat: str, action: Action) -> str:
    """``g:<chat id>:a:<kind>:<turn id>``: at most 47 bytes of Telegram's 64."""
    return f"{DATA_PREFIX}{chat}:{action_id(action.kind, action.turn_id)}"


def parse_data(data: object) -> tuple[str, ActionButton] | None:
    """The chat and the action a guest button names; None for any other data."""
    if not isinstance(data, str) or not data.startswith(DATA_PREFIX):
        return None
    chat, _, rest = data.removeprefix(DATA_PREFIX).partition(":")
    button = parse(rest)
    if not chat.lstrip("-").isdigit() or not isinstance(button, ActionButton):
        return None
    return chat, button


def guest_keyboard(key: MessageKey, actions: Sequence[Action]) -> InlineKeyboardMarkup | None:
    if not actions:
        return None
    chat = key.chat_id.removeprefix(PREFIX)
    buttons = [
        InlineKeyboardButton(action.label or action.kind.value, callback_data=button_data(chat, action))
        for action in actions
    ]
    return InlineKeyboardMarkup([buttons[index : index + 2] for index in range(0, len(buttons), 2)])


def turn_of(message: Message, chat: str) -> int | None:
    """The turn the guest buttons of ``message`` name, when they name this chat."""
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            found = parse_data(button.callback_data)
            if found is not None and found[0] == chat:
                return found[1].turn_id
    return None


def placeholder(prompt: str, locale: str | None) -> InlineQueryResultArticle:
    """The answer posted at once: the prompt, "🎨 Drawing…", and a Cancel that waits for the turn."""
    waiting = InlineKeyboardMarkup(
        [[InlineKeyboardButton(render("button_cancel", locale), callback_data=WAIT_DATA)]]
    )
    text = f"{prompt}\n{render('progress', locale, elapsed='')}"
    return InlineQueryResultArticle(
        id=RESULT_ID,
        title=render("inline_draw", locale),
        input_message_content=InputTextMessageContent(cut(text.strip(), MAX_TEXT)),
        reply_markup=waiting,
    )


class GuestChannel(InlineChannel):
    """Inline mode's channel, with buttons that name the guest chat."""

    def keyboard(self, key: MessageKey, actions: Sequence[Action]) -> InlineKeyboardMarkup | None:
        return guest_keyboard(key, actions)


class GuestMode:
    """Guest messages and the buttons on the bot's guest answers."""

    def __init__(
        self,
        bot: Bot,
        pacer: Pacer,
        settings: Settings,
        engine: GuestEngine,
        builder: Callable[[], InboundBuilder | None],
    ) -> None:
        self.bot = bot
        self.engine = engine
        self.channel = GuestChannel(
            bot,
            pacer,
            file_chat=settings.redraw_telegram_file_chat,
            pages=settings.redraw_public_url is not None,
        )
        # The adapter's channel sends guest keys here (the answers of turns recovered after a crash).
        self.route: tuple[Callable[[MessageKey], bool], InlineChannel] = (is_guest, self.channel)
        self.builder = builder
        # One press at a time per message: what the engine says to a presser is that press's answer.

    def handler(self) -> BaseHandler[Update, Any, None]:
        return MessageHandler(filters.UpdateType.GUEST_MESSAGE, self._on_update)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.guest_message is not None:
            await self.on_message(update)

    async def on_message(self, update: Update) -> None:
        message = update.guest_message
        if message is None or not message.guest_query_id:
            return
        query_id = message.guest_query_id
        if not await self.engine.first_delivery(PLATFORM, QUERY + query_id):
            log.info("telegram: guest query %s was already taken; ignoring it", query_id)
            return
        inbound = self._inbound(message, "")
        if inbound is None:
            return
        try:
            sent = await self.bot.answer_guest_query(query_id, placeholder(inbound.text, inbound.locale))
        except TelegramError as error:
            # Too old, or answered already: there is nowhere left to say anything.
            log.info("telegram: could not answer guest query %s: %s", query_id, error)
            return
        imid = sent.inline_message_id
        key = guest_key(message.chat.id, imid)
        delivery = ANSWER + imid
        reception = Reception(delivery, key.chat_id, imid, {"update": update.to_dict()})
        try:
            await self.engine.first_delivery(PLATFORM, delivery, reception)
        except Exception:
            # The database is away: drawing it unkept beats leaving the placeholder as it is.
            log.exception("telegram: could not keep guest answer %s", imid)
        await self._draw(message, imid, delivery)

    def owns(self, reception: Reception) -> bool:
        return reception.delivery_id.startswith(ANSWER)

    async def recover(self, reception: Reception) -> None:
        """An answer a dead instance posted but never drew: drawn into its placeholder now."""
        try:
            update = Update.de_json(reception.payload["update"], self.bot)
            message = update.guest_message if update is not None else None
        except Exception:
            log.exception("telegram: guest answer %s can't be read back", reception.delivery_id)
            message = None
        if message is None:
            with contextlib.suppress(TelegramError):
                await self.channel.send_text(
                    MessageKey(PLATFORM, reception.chat_id, reception.message_id),
                    render("reception_lost", None),
                )
            await self.engine.handled(PLATFORM, [reception.delivery_id])
            return
        log.info("telegram: drawing guest answer %s left by an instance that died", reception.message_id)
        await self._draw(message, reception.message_id, reception.delivery_id)

    async def _draw(self, message: Message, imid: str, delivery: str) -> None:
        inbound = self._inbound(message, imid)
        try:
            if inbound is not None:
                if message.from_user is not None:
                    self.channel.user(imid, message.from_user.id)
                await self.engine.handle(inbound, self.channel)
        except Exception:
            log.exception("telegram: could not handle guest message %s", imid)
            locale = inbound.locale if inbound is not None else None
            try:
                key = guest_key(message.chat.id, imid)
                await self.channel.send_text(key, render("internal_error", locale))
            except TelegramError as error:
                log.warning("telegram: could not apologize in guest message %s: %s", imid, error)
        # Drawn, answered or ignored (not stopped half-way): nothing left for the next start.
        await self.engine.handled(PLATFORM, [delivery])

    def _inbound(self, message: Message, imid: str) -> Inbound | None:
        """The guest message as the engine's inbound, answered in the inline message ``imid``."""
        builder = self.builder()
        built = builder.build([message]) if builder is not None else None
        if built is None:
            return None
        chat = str(message.chat.id)
        inbound = dataclasses.replace(
            built,
            key=guest_key(chat, imid),
            # Whatever the chat, the answers are seen by everyone in it: no latest-picture follow-ups.
            chat_kind=ChatKind.GROUP,
            addressed=True,
            chat_admin=False,
            # No /settings in a chat the bot isn't in: the user's private chat's apply.
            settings_from=(PLATFORM, str(built.user_id)),
        )
        replied = message.reply_to_message
        if replied is None or inbound.reply_to is None:
            return inbound
        # The replied message is kept under the guest chat.
        inbound = dataclasses.replace(
            inbound, reply_to=MessageKey(PLATFORM, f"{PREFIX}{chat}", inbound.reply_to.message_id)
        )
        turn = turn_of(replied, chat)
        if turn is None:
            return inbound
        # One of our guest pictures in this chat (only the bot writes that data): continued,
        # not restyled, however Telegram shows who sent it.
        source = key_of(replied)
        return dataclasses.replace(
            inbound,
            images=tuple(image for image in inbound.images if image.source != source),
            reply_turn=turn,
            reply_bot_picture=image_ref(replied) is not None,
        )

    # --- buttons ------------------------------------------------------------------

    def takes(self, query: CallbackQuery) -> bool:
        return query.inline_message_id is not None and parse_data(query.data) is not None

    async def on_press(self, query: CallbackQuery) -> None:
        """A button on a guest answer: as on an inline message, in the chat its data names."""
        found = parse_data(query.data)
        imid = query.inline_message_id
        if found is None or imid is None:
            await query.answer()
            return
        async with self.channel.pressing.hold(imid):
            await self._press(query, imid, *found)

    async def _press(self, query: CallbackQuery, imid: str, chat: str, button: ActionButton) -> None:
        locale = query.from_user.language_code
        user = str(query.from_user.id)
        press = ActionPress(button.kind, button.turn_id, guest_key(chat, imid), user, locale)
        if not await shown_in_chat(self.engine.store, press.message, button.turn_id):
            # Data naming a chat this message isn't in: forged (another chat's pictures).
            log.warning("telegram: refused a guest button naming chat %s on message %s", chat, imid)
            await query.answer(render("button_other_chat", locale))
            return
        self.channel.user(imid, query.from_user.id)
        if press.kind is ActionKind.CANCEL:
            await query.answer(render("cancelling", locale))
        else:
            self.channel.pending[imid] = query
        try:
            await self.engine.press(press, self.channel)
        except Exception:
            log.exception("telegram: could not handle the %s button of turn %s", press.kind, press.turn_id)
            with contextlib.suppress(TelegramError):
                await self.channel.send_text(press.message, render("internal_error", locale))
        finally:
            unanswered = self.channel.pending.pop(imid, None)
            if unanswered is not None:
                with contextlib.suppress(TelegramError):
                    await unanswered.answer()
