"""Taking updates so that a crash loses none.

PTB's updater confirms an update to Telegram (the next ``getUpdates`` offset) right
after putting it on the application's queue, and the webhook answers 200 right
after the same put; the handlers run later. So an update is claimed (once across
instances), and a message stored with its claim, before Telegram hears it arrived:
whatever moment the process dies at, the message is either still Telegram's to
redeliver or in the database for recovery.

A webhook's put waits for its claim. Long polling hands over up to 100 updates at
once, and claiming them one after another would hold the last one up by 100
database writes: there the claims run side by side (the updates still reach the
handlers in order), and the next ``getUpdates``, which carries the confirming
offset, waits until they are all stored (:class:`SettlingRequest`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

Claim = Callable[[Update], Awaitable[bool]]


class ReceivingQueue(asyncio.Queue[object]):
    """The application's update queue: an update is claimed before it is queued, and a
    redelivery (another instance, or a webhook retry, took it already) is dropped."""

    def __init__(self, claim: Claim) -> None:
        super().__init__()
        self._claim = claim
        # Long polling: puts return at once, claims run side by side (see settled()).
        self.side_by_side = False
        self._claims: set[asyncio.Task[None]] = set()
        self._last: asyncio.Task[None] | None = None

    async def put(self, item: object) -> None:
        if not isinstance(item, Update):
            await super().put(item)
        elif self.side_by_side:
            task = asyncio.create_task(self._take(item, self._last), name=f"claim-{item.update_id}")
            self._claims.add(task)
            task.add_done_callback(self._claims.discard)
            self._last = task
        else:
            await self._take(item, None)

    async def _take(self, update: Update, before: asyncio.Task[None] | None) -> None:
        try:
            first = await self._claim(update)
        except Exception:
            # The database is away: handling it unclaimed beats dropping it.
            log.exception("telegram: could not claim update %s; handling it anyway", update.update_id)
            first = True
        if before is not None:
            # Handlers start in the order Telegram sent the updates.
            await asyncio.gather(before, return_exceptions=True)
        if not first:
            log.info("telegram: update %s was already taken; dropping the redelivery", update.update_id)
            return
        await super().put(update)

    async def settled(self) -> None:
        """Every update put so far is claimed (and queued)."""
        while self._claims:
            await asyncio.gather(*self._claims, return_exceptions=True)

    async def replay(self, update: Update) -> None:
        """An update claimed before (by an instance that died): queued without a new claim."""
        await super().put(update)


class SettlingRequest(HTTPXRequest):
    """PTB's connection for ``getUpdates``: each call first waits until the updates of the
    one before are claimed, since its offset confirms them to Telegram."""

    def __init__(self, queue: ReceivingQueue, **options: Any) -> None:
        super().__init__(**options)
        self._queue = queue

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        await self._queue.settled()
        return await super().do_request(*args, **kwargs)


class Handled:
    """Messages marked handled (nothing left to recover) a moment later and many at once:
    a burst of messages then costs one write instead of one each, and that write does not
    stand in line with the writes the new pictures wait on. A crash in that moment hands
    the message back to recovery, where its picture is found already stored and not drawn
    again."""

    def __init__(self, write: Callable[[list[str]], Awaitable[None]], delay_s: float = 0.5) -> None:
        self._write = write
        self._delay_s = delay_s
        self._pending: list[str] = []
        self._flusher: asyncio.Task[None] | None = None

    def add(self, delivery_ids: list[str]) -> None:
        self._pending += delivery_ids
        if self._pending and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush_later(), name="telegram-handled")

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._delay_s)
        await self.flush()

    async def flush(self) -> None:
        """Write what is pending now (stopping)."""
        while self._pending:
            ids, self._pending = self._pending, []
            try:
                await self._write(ids)
            except Exception:
                log.exception("telegram: could not mark %d messages handled", len(ids))
