"""Long polling claims a batch of updates together (one write), keeps their order, and
lets the next getUpdates (which confirms them to Telegram) go only once all are claimed.
A message is kept as Telegram sent it, not as PTB would rebuild it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from telegram import Update

from adapters.telegram_adapter.reception import ReceivingQueue, SettlingRequest


def queued_ids(queue: ReceivingQueue) -> list[int]:
    return [queue.get_nowait().update_id for _ in range(queue.qsize())]  # type: ignore[attr-defined]


async def test_a_batch_is_claimed_at_once_in_order_and_settled_before_confirming() -> None:
    calls: list[list[int]] = []

    async def claim(updates: list[Update]) -> list[bool]:
        calls.append([update.update_id for update in updates])
        await asyncio.sleep(0.02)
        return [update.update_id != 3 for update in updates]  # 3 was taken by another instance

    queue = ReceivingQueue(claim)
    queue.side_by_side = True
    for number in range(1, 6):
        await queue.put(Update(number))
    assert calls == [] and queue.empty()  # the puts did not wait
    await queue.settled()
    # One claim for the whole batch: one write, however many updates a long poll brings.
    assert calls == [[1, 2, 3, 4, 5]]
    # The handlers get them as Telegram sent them, the one already taken left out.
    assert queued_ids(queue) == [1, 2, 4, 5]


async def test_a_later_batch_is_queued_after_the_one_before_even_if_claimed_first() -> None:
    async def claim(updates: list[Update]) -> list[bool]:
        # The first batch's claim is the slow one.
        await asyncio.sleep(0.05 if updates[0].update_id == 1 else 0.0)
        return [True] * len(updates)

    queue = ReceivingQueue(claim)
    queue.side_by_side = True
    await queue.put(Update(1))
    await queue.put(Update(2))
    await asyncio.sleep(0)  # the first batch's claim is under way
    await queue.put(Update(3))
    await queue.settled()
    assert queued_ids(queue) == [1, 2, 3]


async def test_when_the_database_is_away_the_batch_is_handled_unclaimed() -> None:
    async def claim(updates: list[Update]) -> list[bool]:
        raise ConnectionError("database away")

    queue = ReceivingQueue(claim)
    queue.side_by_side = True
    for number in (1, 2):
        await queue.put(Update(number))
    await queue.settled()
    assert queued_ids(queue) == [1, 2]


async def test_a_webhooks_put_waits_for_its_claim() -> None:
    async def claim(updates: list[Update]) -> list[bool]:
        await asyncio.sleep(0.01)
        return [True] * len(updates)

    queue = ReceivingQueue(claim)
    await queue.put(Update(7))
    assert queue.qsize() == 1


async def test_a_message_is_kept_as_telegram_sent_it() -> None:
    async def claim(updates: list[Update]) -> list[bool]:
        return [True] * len(updates)

    queue = ReceivingQueue(claim)
    # Stored as it came, a field this PTB doesn't know yet included.
    sent: dict[str, Any] = {
        "update_id": 9,
        "message": {
            "message_id": 4,
            "date": 1_700_000_000,
            "chat": {"id": 5, "type": "private"},
            "text": "a red kite",
            "future_field": {"x": 1},
        },
    }
    request = SettlingRequest(queue)
    parsed = request.parse_json_payload(json.dumps({"ok": True, "result": [sent]}).encode())
    update = Update.de_json(parsed["result"][0], None)
    assert update is not None
    assert queue.as_sent(update) == sent
    # Taken once: an update that was not kept (a webhook's) is rebuilt by PTB, its defaults added.
    rebuilt = queue.as_sent(update)
    assert rebuilt != sent and rebuilt["message"]["text"] == "a red kite"
