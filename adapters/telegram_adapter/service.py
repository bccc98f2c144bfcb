"""The Telegram side of Redraw: a python-telegram-bot Application that turns updates
into engine calls.

Lifecycle (driven by :mod:`bot.app.runtime`): :meth:`TelegramAdapter.start` logs
in and sets the command menu, without taking updates yet, so crash recovery runs
first; :meth:`start_receiving` starts long polling, or the webhook server when
``REDRAW_WEBHOOK_URL`` is set; :meth:`stop_receiving` stops taking updates and
finishes the ones already taken (albums included); :meth:`close` logs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from urllib.parse import urlsplit

from telegram import CallbackQuery, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChosenInlineResultHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from adapters.buttons import ActionButton, GridButton, SettingButton, parse
from adapters.guard import Guard
from adapters.telegram_adapter.albums import AlbumCollector
from adapters.telegram_adapter.channel import TelegramChannel
from adapters.telegram_adapter.grid import TelegramGrids
from adapters.telegram_adapter.guest import GuestMode
from adapters.telegram_adapter.inbound import (
    TELEGRAM_DOWNLOAD_LIMIT,
    BotIdentity,
    InboundBuilder,
    message_key,
)
from adapters.telegram_adapter.inline import (
    InlineChannel,
    RoutingChannel,
    chosen_inbound,
    draw_result,
    inline_press,
)
from adapters.telegram_adapter.login import logged_in, webhook_secret
from adapters.telegram_adapter.members import is_admin, pick_setting
from adapters.telegram_adapter.menu import set_menu
from adapters.telegram_adapter.pacing import FloodLimits, PriorityRateLimiter
from adapters.telegram_adapter.painter import TelegramPages
from adapters.telegram_adapter.reception import Handled, ReceivingQueue, SettlingRequest
from adapters.telegram_adapter.transport import WholeBodyTransport
from bot.app.config import Settings
from bot.engine.entry import Engine
from bot.engine.seams import ActionKind, ActionPress, ChatKind
from bot.engine.store import Reception
from bot.messages import render
from bot.tls import client_context

log = logging.getLogger(__name__)

# Message and button presses only: edits are ignored, as are channel posts.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CALLBACK_QUERY,
    Update.INLINE_QUERY,
    Update.CHOSEN_INLINE_RESULT,
    Update.GUEST_MESSAGE,
]
# The messages handled (service messages are not): each is kept from the moment it is taken.
MESSAGES = filters.UpdateType.MESSAGE & ~filters.StatusUpdate.ALL


class TelegramAdapter:
    platform = "telegram"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        album_window_s: float = 1.0,
        poll_timeout_s: float = 10.0,
        flood: FloodLimits | None = None,
    ) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.engine = engine
        self.poll_timeout_s = poll_timeout_s
        self._queue = ReceivingQueue(self._claim)
        self._handled = Handled(lambda ids: self.engine.handled(self.platform, ids))
        # Telegram's flood limits, spent on results first.
        self.limiter = PriorityRateLimiter(flood)
        builder: ApplicationBuilder = (  # type: ignore[type-arg]
            Application.builder()
            .token(settings.telegram_bot_token.get_secret_value())
            .rate_limiter(self.limiter)
            .concurrent_updates(True)
            .update_queue(self._queue)
            # The pace is Telegram's, not the pool's: 32 connections are plenty (and httpcore's
            # pool costs more per request the more connections it keeps). Bodies go in one
            # write each (adapters/telegram_adapter/transport.py).
            .request(
                HTTPXRequest(
                    media_write_timeout=180,
                    read_timeout=30,
                    write_timeout=30,
                    httpx_kwargs={
                        "transport": WholeBodyTransport.over_http(max_connections=32, verify=client_context())
                    },
                )
            )
            # getUpdates waits until the updates it confirms are claimed (see reception).
            .get_updates_request(
                SettlingRequest(
                    self._queue, read_timeout=poll_timeout_s + 10, httpx_kwargs={"verify": client_context()}
                )
            )
        )
        if settings.telegram_api_base_url:
            builder = builder.base_url(settings.telegram_api_base_url)
        if settings.telegram_api_file_url:
            builder = builder.base_file_url(settings.telegram_api_file_url)
        self.application = builder.build()
        self.application.add_handler(MessageHandler(MESSAGES, self._on_message))
        self.application.add_handler(CallbackQueryHandler(self._on_button))
        self.application.add_handler(InlineQueryHandler(self._on_inline_query))
        self.application.add_handler(ChosenInlineResultHandler(self._on_chosen))
        self.application.add_error_handler(self._on_error)
        self.inline = InlineChannel(
            self.application.bot,
            self.limiter.pacer,
            file_chat=settings.redraw_telegram_file_chat,
            pages=settings.redraw_public_url is not None,
        )
        # Guest mode (adapters/telegram_adapter/guest.py): mentions in chats the bot is not in.
        bot = self.application.bot
        self.guest = GuestMode(bot, self.limiter.pacer, settings, engine, lambda: self._builder)
        self.application.add_handler(self.guest.handler())
        self.pages = TelegramPages(self.application.bot, engine, settings)
        plain = TelegramChannel(self.application.bot, self.limiter.pacer, self.pages.versions_url)
        self.channel = RoutingChannel(plain, self.inline, [self.guest.route])
        self.guard = Guard(self.platform, engine, self.channel, (TelegramError,))
        self.albums = AlbumCollector(album_window_s, self._on_album)
        self.grids = TelegramGrids(self.application.bot, engine, self.pages)
        self._builder: InboundBuilder | None = None
        # PTB retries polling and keeps its webhook server up by itself: never set.
        self.lost = asyncio.Event()
        # The delivery id of each message taken and not yet handled, by (chat id, message id).
        self._taken: dict[tuple[int, int], str] = {}

    # --- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        await logged_in(self.application.initialize(), self.settings)
        me = self.application.bot
        identity = BotIdentity(me.id, me.username)
        # Telegram's own server caps downloads at 20 MB; a local Bot API server does not.
        limit = None if self.settings.telegram_api_base_url else TELEGRAM_DOWNLOAD_LIMIT
        self._builder = InboundBuilder(me, identity, limit)
        await set_menu(self.application.bot)
        await self.application.start()
        log.info("telegram: logged in as @%s", me.username)

    async def start_receiving(self) -> None:
        updater = self.application.updater
        assert updater is not None
        url = self.settings.redraw_webhook_url
        # Polling brings updates in batches: their claims run side by side.
        self._queue.side_by_side = url is None
        if url is None:
            await updater.start_polling(
                timeout=int(self.poll_timeout_s), allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False
            )
            log.info("telegram: long polling")
            return
        await updater.start_webhook(
            listen=self.settings.redraw_webhook_listen,
            port=self.settings.redraw_webhook_port,
            url_path=urlsplit(url).path.lstrip("/"),
            webhook_url=url,
            secret_token=webhook_secret(self.settings),
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        log.info(
            "telegram: webhook %s, listening on %s:%s",
            url,
            self.settings.redraw_webhook_listen,
            self.settings.redraw_webhook_port,
        )

    def health(self) -> str | None:
        """None when updates flow; otherwise what is wrong."""
        updater = self.application.updater
        if not self.application.running or updater is None or not updater.running:
            return "telegram: not receiving updates"
        return None

    async def stop_receiving(self) -> None:
        """Take no more updates; finish the ones taken, and the albums being collected."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        # Stopping the application handles the updates already fetched; album items
        # among them only join their album, so the albums are flushed after that.
        if self.application.running:
            await self.application.stop()
        await self.albums.flush()
        await self._handled.flush()

    async def close(self) -> None:
        # Status messages still to be removed get a moment; then the bot logs out.
        await self.channel.background.drain(5.0)
        await self.application.shutdown()

    # --- updates -------------------------------------------------------------------

    async def _claim(self, updates: list[Update]) -> list[bool]:
        """Telegram retries a webhook it is unsure of, and a load balancer may send the
        retry to another instance: the update id, claimed in the shared database, lets
        exactly one of them handle it. A message is stored with its claim, before any
        download or album wait, so a crash before its turn exists loses nothing."""
        claims: list[tuple[str, Reception | None]] = []
        for update in updates:
            delivery_id = f"update:{update.update_id}"
            message = update.message
            reception = None
            as_sent = self._queue.as_sent(update)
            if message is not None and MESSAGES.check_update(update):
                reception = Reception(delivery_id, str(message.chat.id), str(message.message_id), as_sent)
            claims.append((delivery_id, reception))
        firsts = await self.engine.first_deliveries(self.platform, claims)
        for update, (delivery_id, reception), first in zip(updates, claims, firsts, strict=True):
            if first and reception is not None and update.message is not None:
                self._taken[(update.message.chat.id, update.message.message_id)] = delivery_id
        return firsts

    async def recover_receptions(self) -> None:
        """Messages a dead instance took but never handled go through the handlers again;
        one that can't be read back is answered, so nobody waits for nothing."""
        bot = self.application.bot
        for reception in await self.engine.unhandled_receptions(self.platform):
            if self.guest.owns(reception):
                await self.guest.recover(reception)
                continue
            try:
                update = Update.de_json(reception.payload, bot)
            except Exception:
                log.exception("telegram: reception %s can't be read back", reception.delivery_id)
                update = None
            if update is None or update.message is None:
                await self.guard.apologize(
                    message_key(int(reception.chat_id), int(reception.message_id)), None, "reception_lost"
                )
                await self.engine.handled(self.platform, [reception.delivery_id])
                continue
            log.info("telegram: handling message %s left by an instance that died", reception.delivery_id)
            self._taken[(update.message.chat.id, update.message.message_id)] = reception.delivery_id
            await self._queue.replay(update)

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            return
        if message.media_group_id is not None:
            self.albums.add(message)
            return
        await self._handle([message])

    async def _on_album(self, messages: list[Message]) -> None:
        await self._handle(messages)

    async def _handle(self, messages: list[Message]) -> None:
        try:
            await self._handle_taken(messages)
        finally:
            # Handled, answered or ignored: nothing left to recover (a crash before here is).
            taken = [self._taken.pop((m.chat.id, m.message_id), None) for m in messages]
            self._handled.add([delivery for delivery in taken if delivery])

    async def _handle_taken(self, messages: list[Message]) -> None:
        assert self._builder is not None
        inbound = self._builder.build(messages)
        if inbound is None:
            return
        changes_settings = inbound.command == "settings" and bool(inbound.text.strip())
        if changes_settings and inbound.chat_kind is ChatKind.GROUP and not inbound.chat_admin:
            # Only a change needs to know: one getChatMember call then, not one per message.
            inbound = dataclasses.replace(inbound, chat_admin=await self._is_admin(messages[0]))
        if await self.pages.on_start(messages[0], inbound):
            return  # /start paint_<turn>: the painter's button (adapters/telegram_adapter/painter.py)
        await self.guard.handle(inbound)

    async def _is_admin(self, message: Message) -> bool:
        user = message.from_user
        return user is not None and await is_admin(self.application.bot, message.chat.id, user.id)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is not None and self.guest.takes(query):
            await self.guest.on_press(query)
            return
        if query is not None and self.pages.takes(query):
            await self.pages.on_press(query)  # a group's 🖌 or 🌳 All versions
            return
        if query is not None and query.message is None and query.inline_message_id is not None:
            await self._on_inline_button(query)
            return
        if query is None or query.message is None:
            return
        button = parse(query.data)
        locale = query.from_user.language_code
        if isinstance(button, SettingButton):
            await pick_setting(self.application.bot, self.guard, self.channel, query, button)
            return
        if isinstance(button, GridButton) or (
            isinstance(button, ActionButton) and button.kind is ActionKind.REGION
        ):
            await self._on_grid(query, button)
            return
        if not isinstance(button, ActionButton):
            await query.answer()
            return
        # Answered first: Telegram shows a spinner until then, and sending an original takes a while.
        await query.answer(render("cancelling", locale) if button.kind is ActionKind.CANCEL else None)
        message = query.message
        press = ActionPress(
            button.kind,
            button.turn_id,
            message_key(message.chat.id, message.message_id),
            str(query.from_user.id),
            locale,
        )
        await self.guard.press(press)

    async def _on_grid(self, query: CallbackQuery, button: ActionButton | GridButton) -> None:
        """✏️ and the region grid's buttons (adapters/telegram_adapter/grid.py)."""
        try:
            if isinstance(button, GridButton):
                await self.grids.press(query, button)
            else:
                await self.grids.open(query, button)
        except Exception:
            log.exception("telegram: could not handle a region grid button of turn %s", button.turn_id)
            assert query.message is not None
            chat = query.message.chat.id
            await self.guard.apologize(
                message_key(chat, query.message.message_id), query.from_user.language_code
            )

    # --- inline mode (adapters/telegram_adapter/inline.py) ------------------------------

    async def _on_inline_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        try:
            await query.answer(draw_result(query), cache_time=0, is_personal=True)
        except TelegramError as error:
            log.info("telegram: could not answer an inline query: %s", error)

    async def _on_chosen(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chosen = update.chosen_inline_result
        inbound = chosen_inbound(chosen) if chosen is not None else None
        if chosen is None or inbound is None:
            return
        self.inline.user(inbound.key.message_id, chosen.from_user.id)
        await self.guard.handle(inbound)

    async def _on_inline_button(self, query: CallbackQuery) -> None:
        """A button on an inline message: it acts on the turns drawn there (the engine checks);
        what is said to the presser alone is the query's answer."""
        press = inline_press(query)
        if press is None:
            await query.answer()
            return
        imid = press.message.message_id
        # One press at a time per message: each press's answer is the one pending.
        async with self.inline.pressing.hold(imid):
            self.inline.user(imid, query.from_user.id)
            if press.kind is ActionKind.CANCEL:
                await query.answer(render("cancelling", press.locale))
            else:
                self.inline.pending[imid] = query
            try:
                await self.guard.press(press)
            finally:
                unanswered = self.inline.pending.pop(imid, None)
                if unanswered is not None:
                    with contextlib.suppress(TelegramError):
                        await unanswered.answer()

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: error while handling an update", exc_info=context.error)
