"""Albums arrive as separate messages that share a ``media_group_id``. They are
collected until no new item has come for a short quiet window, then handed on as one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import Message

log = logging.getLogger(__name__)

AlbumKey = tuple[int, str]


class AlbumCollector:
    def __init__(self, window_s: float, ready: Callable[[list[Message]], Awaitable[None]]) -> None:
        self.window_s = window_s
        self.ready = ready
        self._items: dict[AlbumKey, list[Message]] = {}
        self._timers: dict[AlbumKey, asyncio.Task[None]] = {}
        self._handing_over: set[asyncio.Task[None]] = set()

    def add(self, message: Message) -> None:
        assert message.media_group_id is not None
        key = (message.chat.id, message.media_group_id)
        self._items.setdefault(key, []).append(message)
        # Each new item restarts the window: the album is complete once it goes quiet.
        if (timer := self._timers.get(key)) is not None:
            timer.cancel()
        self._timers[key] = asyncio.create_task(self._after_window(key), name=f"album-{key[1]}")

    async def _after_window(self, key: AlbumKey) -> None:
        await asyncio.sleep(self.window_s)
        self._timers.pop(key, None)
        # Handed over in a task of its own, so a late item's cancel can't cut it short.
        task = asyncio.create_task(self._hand_over(key))
        self._handing_over.add(task)
        task.add_done_callback(self._handing_over.discard)

    async def _hand_over(self, key: AlbumKey) -> None:
        messages = sorted(self._items.pop(key, []), key=lambda message: message.message_id)
        if not messages:
            return
        try:
            await self.ready(messages)
        except Exception:
            log.exception("could not handle album %s in chat %s", key[1], key[0])

    async def flush(self) -> None:
        """Hand over every album now (shutdown): nothing the user sent is dropped."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await asyncio.gather(*(self._hand_over(key) for key in list(self._items)), *self._handing_over)
