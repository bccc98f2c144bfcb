"""The pacer: results first on a platform's budget, withdrawal, reserves and windows (order, not timings)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.pacing import Budgets, Pacer, Priority, Ticket, TokenBucket, Window, Withdrawn


async def _call(
    pacer: Pacer, ticket: Ticket, budgets: list[TokenBucket | Window], log: list[str], name: str
) -> None:
    await pacer.acquire(ticket, budgets)
    log.append(name)


async def test_a_result_goes_before_progress_that_waited_longer() -> None:
    pacer, log = Pacer(), list[str]()
    overall = TokenBucket(rate=20, burst=1)
    overall.take(asyncio.get_running_loop().time())  # empty: everything waits for the next token
    ticks = [
        asyncio.create_task(_call(pacer, Ticket(Priority.TICK), [overall], log, f"tick{n}")) for n in range(3)
    ]
    status = asyncio.create_task(_call(pacer, Ticket(Priority.STATUS), [overall], log, "status"))
    await asyncio.sleep(0)
    result = asyncio.create_task(_call(pacer, Ticket(Priority.RESULT), [overall], log, "result"))
    await asyncio.gather(*ticks, status, result)
    assert log == ["result", "status", "tick0", "tick1", "tick2"]


async def test_a_result_waiting_on_its_own_chat_does_not_hold_up_another_chat() -> None:
    pacer, log = Pacer(), list[str]()
    overall = TokenBucket(rate=100, burst=10)
    busy, quiet = TokenBucket(rate=2, burst=1), TokenBucket(rate=2, burst=1)
    busy.take(asyncio.get_running_loop().time())
    first = asyncio.create_task(_call(pacer, Ticket(), [overall, busy], log, "busy chat"))
    second = asyncio.create_task(_call(pacer, Ticket(Priority.TICK), [overall, quiet], log, "quiet chat"))
    await asyncio.gather(first, second)
    assert log == ["quiet chat", "busy chat"]


async def test_progress_leaves_a_chats_reserve_to_results() -> None:
    pacer, log = Pacer(), list[str]()
    chat = TokenBucket(rate=5, burst=3, reserve=1)
    now = asyncio.get_running_loop().time()
    chat.take(now)
    chat.take(now)  # one token left: the reserve
    status = asyncio.create_task(_call(pacer, Ticket(Priority.STATUS), [chat], log, "status"))
    await asyncio.sleep(0.01)
    assert log == []
    await _call(pacer, Ticket(), [chat], log, "result")
    assert log == ["result"]
    await status
    assert log == ["result", "status"]


async def test_a_withdrawn_call_is_never_made() -> None:
    pacer = Pacer()
    chat = TokenBucket(rate=1, burst=1)
    chat.take(asyncio.get_running_loop().time())
    waiting = Ticket(Priority.STATUS)
    task = asyncio.create_task(pacer.acquire(waiting, [chat]))
    await asyncio.sleep(0)
    assert pacer.withdraw(waiting) and pacer.waiting == 0
    with pytest.raises(Withdrawn):
        await task
    # Withdrawn before it even asked: it never waits.
    early = Ticket(Priority.STATUS)
    assert pacer.withdraw(early)
    with pytest.raises(Withdrawn):
        await pacer.acquire(early, [chat])
    # Granted: too late to withdraw.
    granted = Ticket()
    await pacer.acquire(granted, [TokenBucket(rate=1, burst=1)])
    assert not pacer.withdraw(granted)


async def test_a_window_allows_count_per_period_and_a_hold_stops_everything() -> None:
    pacer = Pacer()
    window = Window(count=3, period=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    times = []
    for _ in range(7):
        await pacer.acquire(Ticket(), [window])
        times.append(loop.time() - started)
    # Three a window, the window opening with its first call (a lower bound only: a busy
    # machine is slower, never faster).
    assert times[3] >= 0.2 and times[6] >= times[3] + 0.2
    pacer.hold(window, 0.2)
    held = loop.time()
    await pacer.acquire(Ticket(), [window])
    assert loop.time() - held >= 0.19


async def test_progress_leaves_a_windows_reserve_to_results() -> None:
    pacer, log = Pacer(), list[str]()
    window = Window(count=3, period=10, reserve=2)
    status = [
        asyncio.create_task(_call(pacer, Ticket(Priority.STATUS), [window], log, f"status{n}"))
        for n in range(2)
    ]
    await asyncio.sleep(0.01)
    assert log == ["status0"]  # the first of the three; two kept for results
    for n in range(2):
        await _call(pacer, Ticket(), [window], log, f"result{n}")
    assert log == ["status0", "result0", "result1"]
    for task in status[1:]:
        task.cancel()


async def test_budgets_are_made_per_key_and_quiet_ones_forgotten() -> None:
    made = Budgets(lambda: TokenBucket(rate=1000, burst=1))
    first = made("chat 1")
    assert made("chat 1") is first and made("chat 2") is not first
    for n in range(1100):
        made(f"chat {n + 3}")
    assert len(made._by_key) <= 1024
