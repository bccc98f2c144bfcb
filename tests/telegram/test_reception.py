"""Long polling claims a batch of updates side by side, keeps their order, and lets the
next getUpdates (which confirms them to Telegram) go only once all are claimed."""

from __future__ import annotations

import asyncio

from telegram import Update

from adapters.telegram_adapter.reception import ReceivingQueue


async def test_a_batch_is_claimed_side_by_side_in_order_and_settled_before_confirming() -> None:
    claimed: list[int] = []
    running = 0
    most = 0

    async def claim(update: Update) -> bool:
        nonlocal running, most
        running += 1
        most = max(most, running)
        # The first claim is the slowest: the others finish before it.
        await asyncio.sleep(0.05 if update.update_id == 1 else 0.01)
        running -= 1
        claimed.append(update.update_id)
        return update.update_id != 3  # 3 was taken by another instance

    queue = ReceivingQueue(claim)
    queue.side_by_side = True
    for number in range(1, 6):
        await queue.put(Update(number))
    assert claimed == [] and queue.empty()  # the puts did not wait
    await queue.settled()
    assert sorted(claimed) == [1, 2, 3, 4, 5] and most == 5
    # The handlers get them as Telegram sent them, the one already taken left out.
    assert [queue.get_nowait().update_id for _ in range(queue.qsize())] == [1, 2, 4, 5]  # type: ignore[attr-defined]


async def test_a_webhooks_put_waits_for_its_claim() -> None:
    async def claim(update: Update) -> bool:
        await asyncio.sleep(0.01)
        return True

    queue = ReceivingQueue(claim)
    await queue.put(Update(7))
    assert queue.qsize() == 1
