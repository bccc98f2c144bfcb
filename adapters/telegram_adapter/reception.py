"""Taking updates so that a crash loses none.

PTB's updater confirms an update to Telegram (the next ``getUpdates`` offset) right
after putting it on the application's queue, and the webhook answers 200 right
after the same put; the handlers run later. So the put is where an update is
claimed (once across instances) and a message stored with its claim: when the put
returns, the message is either still Telegram's to redeliver or in the database
for recovery, whatever moment the process dies at.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import Update

log = logging.getLogger(__name__)

Claim = Callable[[Update], Awaitable[bool]]


class ReceivingQueue(asyncio.Queue[object]):
    """The application's update queue: an update is claimed before it is queued, and a
    redelivery (another instance, or a webhook retry, took it already) is dropped."""

    def __init__(self, claim: Claim) -> None:
        super().__init__()
        self._claim = claim

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            try:
                first = await self._claim(item)
            except Exception:
                # The database is away: handling it unclaimed beats dropping it.
                log.exception("telegram: could not claim update %s; handling it anyway", item.update_id)
                first = True
            if not first:
                log.info("telegram: update %s was already taken; dropping the redelivery", item.update_id)
                return
        await super().put(item)

    async def replay(self, update: Update) -> None:
        """An update claimed before (by an instance that died): queued without a new claim."""
        await super().put(update)
