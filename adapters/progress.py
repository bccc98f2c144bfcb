"""Status messages kept to their latest state with as few platform calls as possible.

The engine says what a status should show (:meth:`StatusMessage.show`) and never
waits. One sender per message makes the calls, one at a time, through the
platform's :class:`~adapters.pacing.Pacer` at status or progress priority: a state
that is overtaken before its turn comes is never sent (only the latest goes out),
and a message not yet sent when the picture is done is withdrawn. Platforms
subclass it with their create, edit and delete calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from adapters.pacing import Pacer, Priority, Ticket, Withdrawn
from bot import imaging
from bot.engine.records import MessageKey
from bot.offload import run_cpu

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

    def __init__(self, pacer: Pacer, background: Background) -> None:
        self.pacer = pacer
        self.background = background
        self.key: MessageKey | None = None
        # It shows a picture (a partial preview) rather than text.
        self.photo = False
        self._text = ""
        self._preview: bytes | None = None
        self._shown: str | None = None
        self._closed = False
        self._ticket: Ticket | None = None
        self._sender: asyncio.Task[None] | None = None

    # --- what the platform does -------------------------------------------------

    async def create(self, text: str, preview: bytes | None, ticket: Ticket) -> MessageKey:
        raise NotImplementedError

    async def edit(self, text: str, preview: bytes | None, ticket: Ticket) -> None:
        raise NotImplementedError

    async def delete(self, ticket: Ticket) -> None:
        raise NotImplementedError

    # --- what the engine does ------------------------------------------------------

    def show(self, text: str, preview: bytes | None = None) -> None:
        if self._closed:
            return
        self._text = text
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
            text, preview = self._text, self._preview
            if preview is None and self.key is not None and text == self._shown:
                return
            self._preview = None
            if preview is not None:
                preview = await run_cpu(imaging.jpeg_preview, preview, PREVIEW_SIDE, 80)
                if self._closed:
                    return
            # A new message or a picture is news; the clock going round is not.
            priority = Priority.STATUS if self.key is None or preview is not None else Priority.TICK
            ticket = self._ticket = Ticket(priority)
            try:
                if self.key is None:
                    self.key = await self.create(text, preview, ticket)
                else:
                    await self.edit(text, preview, ticket)
            except Withdrawn:
                return
            except Exception as error:
                # A status is a courtesy: a failed call never fails the picture.
                log.warning("could not update status message %s: %s", self.key, error)
                return
            self._shown = text
            self.photo = self.photo or preview is not None

    async def _remove(self) -> None:
        try:
            await self.delete(Ticket(Priority.CLEANUP))
        except Exception as error:
            log.info("status message %s was not removed: %s", self.key, error)
