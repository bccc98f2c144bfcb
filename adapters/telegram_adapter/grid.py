"""Region grids on Telegram: ✏️ on a picture answers with the picture overlaid by the
labelled grid, replying to it, with an inline keyboard of cells (4 rows of 4), All /
None, Done / Cancel. Each button's callback data carries the turn, the picture and the
cells after the press (:func:`adapters.buttons.grid_id`), so a toggle needs no state.

A toggle edits the same message in one call (``editMessageMedia``: the overlay with the
chosen cells tinted, the caption and the keyboard) at status priority: it never goes
ahead of a finished picture, and only the newest press of a grid is shown. Done turns
the caption into "Now reply to this message with what to change…" (a reply to it is the
region edit, handled as any message); Cancel deletes the grid. Only the one who opened
a grid may press its buttons: anyone else gets an alert.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    ReplyParameters,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from adapters.buttons import ActionButton, GridButton, grid_id
from adapters.pacing import Priority, Ticket
from adapters.telegram_adapter.inbound import key_of, message_key
from adapters.telegram_adapter.painter import TelegramPages
from bot.engine.entry import Engine
from bot.engine.seams import ActionPress, GridOutcome, GridPress, GridStep, GridView
from bot.images import regions

log = logging.getLogger(__name__)

Bot = ExtBot[Ticket]
CHOSEN = "✅"
MAX_ALERT = 200


def grid_keyboard(view: GridView, extra: Sequence[InlineKeyboardButton] = ()) -> InlineKeyboardMarkup:
    """The cells (a row of the grid per keyboard row), then All / None, then Done / Cancel.
    Once Done was pressed only Cancel is left. ``extra``: a last row (🖌, the painter)."""

    def button(text: str, step: GridStep, cells: frozenset[int]) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=grid_id(step, view.turn_id, view.image_index, cells))

    cancel = button(view.labels.cancel, GridStep.CANCEL, view.cells)
    last = [list(extra)] if extra else []
    if view.ask:
        return InlineKeyboardMarkup([[cancel], *last])
    rows = [
        [
            button(
                f"{CHOSEN} {regions.cell_label(index)}" if index in view.cells else regions.cell_label(index),
                GridStep.SHOW,
                regions.toggled(view.cells, index),
            )
            for index in range(row * regions.COLUMNS, (row + 1) * regions.COLUMNS)
        ]
        for row in range(regions.ROWS)
    ]
    rows.append(
        [
            button(view.labels.all, GridStep.SHOW, regions.ALL_CELLS),
            button(view.labels.none, GridStep.SHOW, regions.NO_CELLS),
        ]
    )
    rows.append([button(view.labels.done, GridStep.DONE, view.cells), cancel])
    return InlineKeyboardMarkup([*rows, *last])


class TelegramGrids:
    """``pages``: the painter's button under each grid (adapters/telegram_adapter/painter.py)."""

    def __init__(self, bot: Bot, engine: Engine, pages: TelegramPages) -> None:
        self.bot = bot
        self.engine = engine
        self.pages = pages
        # The newest press of each grid message being handled: an older one shows nothing.
        self._newest: dict[tuple[int, int], int] = {}
        self._order = itertools.count()

    async def open(self, query: CallbackQuery, button: ActionButton) -> None:
        """✏️: the grid, as a photo replying to the picture."""
        message = query.message
        assert message is not None
        user = str(query.from_user.id)
        key = message_key(message.chat.id, message.message_id)
        press = ActionPress(button.kind, button.turn_id, key, user, query.from_user.language_code)
        answered = False
        try:
            outcome = await self.engine.open_grid(press)
            answered = await _answer(query, outcome)
            view = outcome.view
            if view is None or view.overlay is None:
                return
            paint = await self.pages.grid_row(
                message.chat, query.from_user.id, view.turn_id, press.locale, image_index=view.image_index
            )
            sent = await self.bot.send_photo(
                message.chat.id,
                InputFile(view.overlay, filename="grid.jpg"),
                caption=view.text,
                reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
                reply_markup=grid_keyboard(view, paint),
                rate_limit_args=Ticket(Priority.RESULT),
            )
            await self.engine.grid_shown(view, key_of(sent), user)
        finally:
            if not answered:
                await _answer(query, GridOutcome())

    async def press(self, query: CallbackQuery, button: GridButton) -> None:
        """A cell, All, None, Done or Cancel on a grid."""
        message = query.message
        assert message is not None
        where = (message.chat.id, message.message_id)
        mine = self._newest[where] = next(self._order)
        press = GridPress(
            button.step,
            button.turn_id,
            button.image_index,
            button.cells,
            message_key(*where),
            str(query.from_user.id),
            query.from_user.language_code,
        )
        answered = False
        try:
            outcome = await self.engine.press_grid(press)
            answered = await _answer(query, outcome)
            if outcome.refused or self._newest.get(where) != mine:
                return  # refused, or a newer press of this grid shows its own state
            if outcome.closed:
                await self.bot.delete_message(*where, rate_limit_args=Ticket(Priority.STATUS))
            elif outcome.view is not None:
                paint = await self.pages.grid_row(
                    message.chat,
                    query.from_user.id,
                    button.turn_id,
                    press.locale,
                    image_index=button.image_index,
                )
                await self._show(where, outcome.view, paint)
        finally:
            if self._newest.get(where) == mine:
                del self._newest[where]
            if not answered:
                await _answer(query, GridOutcome())

    async def _show(
        self, where: tuple[int, int], view: GridView, paint: Sequence[InlineKeyboardButton]
    ) -> None:
        """The grid's new state in place, in one call, after results."""
        try:
            if view.overlay is None:
                await self.bot.edit_message_caption(
                    *where,
                    caption=view.text,
                    reply_markup=grid_keyboard(view, paint),
                    rate_limit_args=Ticket(Priority.STATUS),
                )
            else:
                await self.bot.edit_message_media(
                    InputMediaPhoto(view.overlay, caption=view.text, filename="grid.jpg"),
                    *where,
                    reply_markup=grid_keyboard(view, paint),
                    rate_limit_args=Ticket(Priority.STATUS),
                )
        except BadRequest as error:
            if "not modified" not in str(error):
                raise


async def _answer(query: CallbackQuery, outcome: GridOutcome) -> bool:
    """Answer the callback query once: a refusal as an alert, a notice as a toast."""
    try:
        await query.answer(outcome.notice[:MAX_ALERT] or None, show_alert=outcome.refused)
    except TelegramError as error:
        log.info("telegram: could not answer a grid press: %s", error)
    return True
