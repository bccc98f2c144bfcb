"""Concurrency limits: in flight per user, per chat and overall, with a fair queue
that can tell each waiter its place."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Waiter:
    user: Hashable
    chat: Hashable
    ready: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Limiter:
    def __init__(self, per_user: int, per_chat: int, overall: int) -> None:
        self.per_user = per_user
        self.per_chat = per_chat
        self.overall = overall
        self._users: Counter[Hashable] = Counter()
        self._chats: Counter[Hashable] = Counter()
        self._running = 0
        self._queue: deque[_Waiter] = deque()

    @property
    def in_flight(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def _fits(self, user: Hashable, chat: Hashable) -> bool:
        return (
            self._running < self.overall
            and self._users[user] < self.per_user
            and self._chats[chat] < self.per_chat
        )

    def _take(self, user: Hashable, chat: Hashable) -> None:
        self._running += 1
        self._users[user] += 1
        self._chats[chat] += 1

    def _give_back(self, user: Hashable, chat: Hashable) -> None:
        self._running -= 1
        self._users[user] -= 1
        self._chats[chat] -= 1
        self._wake()

    def _wake(self) -> None:
        # First come, first served, skipping waiters still held back by their own limits.
        for waiter in list(self._queue):
            if waiter.ready.done():
                self._queue.remove(waiter)
            elif self._fits(waiter.user, waiter.chat):
                self._queue.remove(waiter)
                self._take(waiter.user, waiter.chat)
                waiter.ready.set_result(None)

    @asynccontextmanager
    async def slot(
        self, user: Hashable, chat: Hashable, on_queued: Callable[[int], Awaitable[None]] | None = None
    ) -> AsyncIterator[None]:
        """Hold one in-flight slot. When none is free, wait in line; ``on_queued`` hears
        the place (1 = next).

        Every release wakes the waiters that fit, so whoever still waits is held back by
        their own user or chat limit: a newcomer that fits takes nothing from them."""
        if self._fits(user, chat):
            self._take(user, chat)
        else:
            waiter = _Waiter(user, chat)
            self._queue.append(waiter)
            try:
                # Inside the try: a notice that fails, or a cancel while it is being sent, must
                # not leave the waiter in line to be handed a slot nobody gives back.
                if on_queued is not None:
                    await on_queued(len(self._queue))
                await waiter.ready
            except BaseException:
                if waiter.ready.done() and not waiter.ready.cancelled():
                    self._give_back(user, chat)  # handed a slot, and gone at once
                else:
                    waiter.ready.cancel()
                    if waiter in self._queue:
                        self._queue.remove(waiter)
                raise
        try:
            yield
        finally:
            self._give_back(user, chat)
