"""Status messages kept to their latest state with as few platform calls as possible.

The engine says what a status should show (:meth:`StatusMessage.show`) and never
waits. One sender per message makes the calls, one at a time, through the
platform's :class:`~adapters.pacing.Pacer` at status or progress priority: a state
that is overtaken before its turn comes is never sent (only the latest goes out),
and a message not yet sent when the picture is done is withdrawn. Platforms
subclass it with their create, edit and delete calls.

Where messages are scarce (a group: 20 a minute), the pictures in progress share one
:class:`Board`: one message, a line each (its place in line or its drawing time), a
Cancel button each, removed once the last picture is out. Each picture then costs
one message of its own: itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any

from adapters.pacing import Pacer, Priority, Ticket, Withdrawn
from bot.engine.records import MessageKey
from bot.engine.seams import Action
from bot.images import imaging
from bot.images.offload import run_cpu

log = logging.getLogger(__name__)

PREVIEW_SIDE = 768


class Background:
    """Calls nobody waits for (removing a status message), finished before the adapter closes."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a background platform call failed: %s", task.exception())

    async def drain(self, within: float) -> None:
        if not self._tasks:
            return
        _, late = await asyncio.wait(list(self._tasks), timeout=within)
        for task in late:
            task.cancel()


class StatusMessage:
    """One status message. Subclasses make the platform's calls, passing each ``ticket``
    to the pacer before calling."""

    def __init__(self, pacer: Pacer, background: Background, actions: Sequence[Action] = ()) -> None:
        self.pacer = pacer
        self.background = background
        self.key: MessageKey | None = None
        # It shows a picture (a partial preview) rather than text.
        self.photo = False
        self._text = ""
        self._actions = tuple(actions)
        self._preview: bytes | None = None
        self._shown: tuple[str, tuple[Action, ...]] | None = None
        self._closed = False
        self._ticket: Ticket | None = None
        self._sender: asyncio.Task[None] | None = None

    # --- what the platform does -------------------------------------------------

    async def create(
        self, text: str, preview: bytes | None, actions: Sequence[Action], ticket: Ticket
    ) -> MessageKey:
        raise NotImplementedError

    async def edit(self, text: str, preview: bytes | None, actions: Sequence[Action], ticket: Ticket) -> None:
        raise NotImplementedError

    async def delete(self, ticket: Ticket) -> None:
        raise NotImplementedError

    # --- what the engine does ------------------------------------------------------

    def show(self, text: str, preview: bytes | None = None, actions: Sequence[Action] | None = None) -> None:
        if self._closed:
            return
        self._text = text
        if actions is not None:
            self._actions = tuple(actions)
        if preview is not None:
            self._preview = preview
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send(), name="redraw-status-send")

    async def close(self, *, keep: bool) -> MessageKey | None:
        if self._closed:
            return None
        self._closed = True
        if self._ticket is not None:
            # Not yet made: never will be. Already made: it finishes (an edit must land
            # before the answer that replaces it, not after).
            self.pacer.withdraw(self._ticket)
        if self._sender is not None:
            with contextlib.suppress(Exception):
                await self._sender
        if self.key is None:
            return None
        if keep:
            return self.key
        self.background.spawn(self._remove())
        return None

    # --- sending -------------------------------------------------------------------

    async def _send(self) -> None:
        while not self._closed:
            text, actions, preview = self._text, self._actions, self._preview
            if preview is None and self.key is not None and (text, actions) == self._shown:
                return
            self._preview = None
            if preview is not None:
                preview = await run_cpu(imaging.jpeg_preview, preview, PREVIEW_SIDE, 80)
                if self._closed:
                    return
            # A new message or a picture is news; the clock going round is not.
            news = self._shown is None or preview is not None
            ticket = self._ticket = Ticket(Priority.STATUS if news else Priority.TICK)
            try:
                if self.key is None:
                    self.key = await self.create(text, preview, actions, ticket)
                else:
                    await self.edit(text, preview, actions, ticket)
            except Withdrawn:
                return
            except Exception as error:
                # A status is a courtesy: a failed call never fails the picture.
                log.warning("could not update status message %s: %s", self.key, error)
                return
            self._shown = (text, actions)
            self.photo = self.photo or preview is not None

    async def _remove(self) -> None:
        try:
            await self.delete(Ticket(Priority.CLEANUP))
        except Exception as error:
            log.info("status message %s was not removed: %s", self.key, error)


@dataclass
class _Line:
    label: str
    text: str
    cancel: Action | None


class Board:
    """One status message for every picture in progress in a chat: a line each."""

    def __init__(
        self, make: Callable[[], StatusMessage], *, limit: int, buttons: int, gone: Callable[[], None]
    ) -> None:
        self._make = make
        self._limit = limit
        self._buttons = buttons
        self._gone = gone
        self._message: StatusMessage | None = None
        self._lines: dict[int, _Line] = {}
        self._ids = itertools.count(1)

    def line(self, actions: Sequence[Action], label: str) -> BoardLine:
        cancel = next(iter(actions), None)
        return BoardLine(self, next(self._ids), label, cancel)

    def _set(self, line_id: int, line: _Line) -> None:
        self._lines[line_id] = line
        self._refresh()

    def _drop(self, line_id: int) -> None:
        if self._lines.pop(line_id, None) is not None:
            self._refresh()

    def _refresh(self) -> None:
        if not self._lines:
            # The last picture is out: the board goes (after results, at clean-up priority).
            message, self._message = self._message, None
            if message is not None:
                message.background.spawn(message.close(keep=False))
            self._gone()
            return
        if self._message is None:
            self._message = self._make()
        rows: list[str] = []
        actions: list[Action] = []
        for number, line in enumerate(self._lines.values(), start=1):
            rows.append(f"{number}. {line.label} · {line.text}" if line.label else f"{number}. {line.text}")
            if line.cancel is not None and len(actions) < self._buttons:
                actions.append(replace(line.cancel, label=f"✖ {number}"))
        text = "\n".join(rows)
        if len(text) > self._limit:
            text = text[: self._limit - 1] + "…"
        self._message.show(text, actions=actions)


class Boards:
    """A board a chat, made for its first picture in progress and forgotten once its last is out.
    ``make``: a status message in the chat named (its key has no message id)."""

    def __init__(self, make: Callable[[MessageKey], StatusMessage], *, limit: int, buttons: int) -> None:
        self._make = make
        self._limit = limit
        self._buttons = buttons
        self._boards: dict[str, Board] = {}

    def line(self, reply_to: MessageKey, actions: Sequence[Action], label: str) -> BoardLine:
        chat_id = reply_to.chat_id
        board = self._boards.get(chat_id)
        if board is None:
            chat = MessageKey(reply_to.platform, chat_id, "")

            def gone() -> None:
                self._boards.pop(chat_id, None)

            board = self._boards[chat_id] = Board(
                lambda: self._make(chat), limit=self._limit, buttons=self._buttons, gone=gone
            )
        return board.line(actions, label)


class BoardLine:
    """One picture's line on a :class:`Board` (the engine's Progress). Previews are not
    shown there: a group's messages are spent on pictures."""

    def __init__(self, board: Board, line_id: int, label: str, cancel: Action | None) -> None:
        self._board = board
        self._id = line_id
        self._label = label
        self._cancel = cancel
        self._closed = False

    def show(self, text: str, preview: bytes | None = None) -> None:
        if not self._closed:
            self._board._set(self._id, _Line(self._label, text, self._cancel))

    async def close(self, *, keep: bool) -> MessageKey | None:
        # The board is shared: the answer comes as a message of its own.
        self._closed = True
        self._board._drop(self._id)
        return None
