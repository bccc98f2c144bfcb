"""Taking updates so that a crash loses none.

PTB's updater confirms an update to Telegram (the next ``getUpdates`` offset) right
after putting it on the application's queue, and the webhook answers 200 right
after the same put; the handlers run later. So an update is claimed (once across
instances), and a message stored with its claim, before Telegram hears it arrived:
whatever moment the process dies at, the message is either still Telegram's to
redeliver or in the database for recovery.

A webhook's put waits for its claim. Long polling hands over up to 100 updates at
once, and claiming them one after another would hold the last one up by 100
database writes: there the whole batch is claimed in one write (the updates still
reach the handlers in order), and the next ``getUpdates``, which carries the
confirming offset, waits until they are all stored (:class:`SettlingRequest`).

A message is stored as Telegram sent it: the JSON that ``getUpdates`` brought is kept
until the update is claimed, because PTB's ``to_dict()`` walks every object's slots
(about 1 ms an update on the loop, 100 ms for a full batch).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

# Claims updates (in order), saying for each whether it is new.
Claim = Callable[[list[Update]], Awaitable[list[bool]]]
JSONDict = dict[str, Any]


class ReceivingQueue(asyncio.Queue[object]):
    """The application's update queue: an update is claimed before it is queued, and a
    redelivery (another instance, or a webhook retry, took it already) is dropped."""

    def __init__(self, claim: Claim) -> None:
        super().__init__()
        self._claim = claim
        # Long polling: puts return at once, a batch is claimed together (see settled()).
        self.side_by_side = False
        self._batch: list[Update] = []
        self._claims: set[asyncio.Task[None]] = set()
        self._last: asyncio.Task[None] | None = None
        # Updates as Telegram sent them (long polling), by update id, until claimed.
        self._as_sent: dict[int, JSONDict] = {}

    def keep_as_sent(self, updates: list[JSONDict]) -> None:
        # The batch before was claimed before this getUpdates was sent (settled()): anything
        # left of it (an update PTB could not read) is dropped, so nothing piles up.
        self._as_sent = {
            update["update_id"]: update
            for update in updates
            if isinstance(update, dict) and isinstance(update.get("update_id"), int)
        }

    def as_sent(self, update: Update) -> JSONDict:
        """The update as Telegram sent it (PTB leaves what it parses untouched), else rebuilt."""
        return self._as_sent.pop(update.update_id, None) or update.to_dict()

    async def put(self, item: object) -> None:
        if not isinstance(item, Update):
            await super().put(item)
        elif self.side_by_side:
            # The updates of one getUpdates answer are all put in the same moment: they are
            # claimed together (the writes share a transaction) and queued in order once
            # all are claimed. Chaining each update behind the one before would cost a turn
            # of the busy event loop per update: 100 of them, before the last handler starts.
            self._batch.append(item)
            if len(self._batch) == 1:
                task = asyncio.create_task(self._take_batch(self._last), name="telegram-claims")
                self._claims.add(task)
                task.add_done_callback(self._claims.discard)
                self._last = task
        elif (await self._firsts([item]))[0]:
            await super().put(item)

    async def _take_batch(self, before: asyncio.Task[None] | None) -> None:
        batch, self._batch = self._batch, []
        firsts = await self._firsts(batch)
        if before is not None:
            # Handlers start in the order Telegram sent the updates.
            await asyncio.gather(before, return_exceptions=True)
        for update, first in zip(batch, firsts, strict=True):
            if first:
                self.put_nowait(update)

    async def _firsts(self, updates: list[Update]) -> list[bool]:
        """For each update, True unless another instance (or a webhook retry) took it already."""
        try:
            firsts = await self._claim(updates)
        except Exception:
            # The database is away: handling them unclaimed beats dropping them.
            log.exception("telegram: could not claim %d updates; handling them anyway", len(updates))
            return [True] * len(updates)
        for update, first in zip(updates, firsts, strict=True):
            if not first:
                log.info("telegram: update %s was already taken; dropping the redelivery", update.update_id)
        return firsts

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

    # PTB declares it static but calls it on the instance, which this needs (its queue).
    def parse_json_payload(self, payload: bytes) -> JSONDict:  # type: ignore[override]
        parsed = super().parse_json_payload(payload)
        result = parsed.get("result") if isinstance(parsed, dict) else None
        if isinstance(result, list):
            self._queue.keep_as_sent(result)
        return parsed


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
