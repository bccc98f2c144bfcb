"""Several instances on one database: slots and budgets counted across all of them,
the lease that keeps recovery away from a live instance's turns, deliveries taken
once, and the figures behind ``redraw stats``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.engine.records import TurnStatus
from bot.engine.store import NewTurn, Outcome, Reception, SlotRequest, SlotStatus
from storage import clock
from storage.db import in_schema
from storage.sql import SqlStore
from tests.conftest import POSTGRES_URL


def new_turn(user: Any = "u1", chat: Any = "c1", instance: str | None = "a") -> NewTurn:
    return NewTurn("tg", chat, user, "a fox", "images", "gpt-image-2", {}, instance_id=instance)


def limits(per_user: int = 2, per_chat: int = 4, overall: int = 64, **budgets: Any) -> SlotRequest:
    return SlotRequest(per_user=per_user, per_chat=per_chat, overall=overall, estimate_usd=0.25, **budgets)


async def queued(store: SqlStore, count: int, **options: str | None) -> list[int]:
    ids = []
    for _ in range(count):
        turn = await store.create_turn(new_turn(**options))
        assert turn is not None
        ids.append(turn.id)
    return ids


async def test_slots_count_running_turns_per_user_chat_and_overall(store: SqlStore) -> None:
    first, second, third = await queued(store, 3)
    assert (await store.claim_slot(first, limits(per_user=2))).status is SlotStatus.CLAIMED
    assert (await store.claim_slot(second, limits(per_user=2))).status is SlotStatus.CLAIMED
    busy = await store.claim_slot(third, limits(per_user=2))
    assert busy.status is SlotStatus.BUSY and busy.ahead == 0
    # Someone else in the same chat is held by the chat's limit, then by the overall one.
    [other] = await queued(store, 1, user="u2")
    assert (await store.claim_slot(other, limits(per_chat=2))).status is SlotStatus.BUSY
    assert (await store.claim_slot(other, limits(overall=2))).status is SlotStatus.BUSY
    assert (await store.claim_slot(other, limits())).status is SlotStatus.CLAIMED
    # A finished turn gives its place back.
    await store.finish_turn(first, Outcome(TurnStatus.DONE, cost_usd=0.2))
    assert (await store.claim_slot(third, limits(per_user=2))).status is SlotStatus.CLAIMED


async def test_budgets_count_the_ledger_and_what_running_turns_hold(store: SqlStore) -> None:
    since = datetime.now(UTC) - timedelta(hours=1)
    daily: dict[str, Any] = {"user_budget_usd": 1.0, "user_since": since}
    first, second, third = await queued(store, 3)
    await store.claim_slot(first, limits(**daily))
    await store.finish_turn(first, Outcome(TurnStatus.DONE, cost_usd=0.5))
    # 0.50 charged + this turn's 0.25 held: a third turn of 0.25 still fits, a fourth does not.
    assert (await store.claim_slot(second, limits(**daily))).status is SlotStatus.CLAIMED
    over = await store.claim_slot(third, SlotRequest(2, 4, 64, 0.3, user_budget_usd=1.0, user_since=since))
    assert over.status is SlotStatus.USER_BUDGET and over.spent_usd == pytest.approx(0.75)
    monthly: dict[str, Any] = {"chat_budget_usd": 0.7, "chat_since": since}
    assert (await store.claim_slot(third, limits(**monthly))).status is SlotStatus.CHAT_BUDGET
    # Nothing was taken by the refusals: the turn is still queued and can run later.
    turn = await store.get_turn(third)
    assert turn is not None and turn.status is TurnStatus.QUEUED


@pytest.fixture
async def two_instances(pg_schema: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    stores = (
        SqlStore.from_url(POSTGRES_URL, **in_schema(pg_schema)),
        SqlStore.from_url(POSTGRES_URL, **in_schema(pg_schema)),
    )
    yield stores
    for store in stores:
        await store.close()


async def test_two_instances_never_overrun_a_limit_together(two_instances: tuple[SqlStore, SqlStore]) -> None:
    one, other = two_instances
    ids = await queued(one, 40, instance="a")
    # Every claim at once, half through each instance's own connections.
    outcomes = await asyncio.gather(
        *(
            (one if index % 2 else other).claim_slot(turn_id, limits(per_user=40, per_chat=40, overall=5))
            for index, turn_id in enumerate(ids)
        )
    )
    assert sum(outcome.status is SlotStatus.CLAIMED for outcome in outcomes) == 5


async def test_two_instances_never_overrun_a_budget_together(
    two_instances: tuple[SqlStore, SqlStore],
) -> None:
    one, other = two_instances
    since = datetime.now(UTC) - timedelta(hours=1)
    ids = await queued(one, 20, instance="a")
    request = limits(per_user=20, per_chat=20, user_budget_usd=1.0, user_since=since)
    outcomes = await asyncio.gather(
        *((one if index % 2 else other).claim_slot(turn_id, request) for index, turn_id in enumerate(ids))
    )
    # 4 x 0.25 fit in 1.00; every other claim is told the budget is spent.
    assert sum(outcome.status is SlotStatus.CLAIMED for outcome in outcomes) == 4
    assert {outcome.status for outcome in outcomes} == {SlotStatus.CLAIMED, SlotStatus.USER_BUDGET}


async def test_recovery_leaves_a_live_instances_turns_alone(store: SqlStore) -> None:
    await store.heartbeat("live")
    await store.heartbeat("dead")
    [live] = await queued(store, 1, instance="live")
    [dead] = await queued(store, 1, instance="dead")
    [unknown] = await queued(store, 1, instance="never-registered")
    [legacy] = await queued(store, 1, instance=None)  # from before instances were recorded
    await store.claim_slot(live, limits())
    await asyncio.sleep(0.3)
    await store.heartbeat("live")
    taken = await store.interrupt_unfinished(lease_s=0.2)
    assert [turn.id for turn in taken] == [dead, unknown, legacy]
    turn = await store.get_turn(live)
    assert turn is not None and turn.status is TurnStatus.RUNNING
    # Once the live instance stops beating, the next sweep takes its turn too; once only.
    await asyncio.sleep(0.3)
    assert [turn.id for turn in await store.interrupt_unfinished(lease_s=0.2)] == [live]
    assert await store.interrupt_unfinished(lease_s=0.2) == []


async def test_a_retired_instance_is_gone_at_once(store: SqlStore) -> None:
    await store.heartbeat("a")
    [turn_id] = await queued(store, 1, instance="a")
    await store.retire_instance("a")
    assert [turn.id for turn in await store.interrupt_unfinished(lease_s=3600)] == [turn_id]


async def test_a_dead_instance_is_seen_at_once_from_its_lock(store: SqlStore) -> None:
    await store.heartbeat("alive")
    await store.heartbeat("dies")
    [kept] = await queued(store, 1, instance="alive")
    [lost] = await queued(store, 1, instance="dies")
    # Its heartbeat is fresh, well within the lease, but its lock went with it.
    await store.abandon_instance("dies")
    taken = await store.interrupt_unfinished(lease_s=3600, instance_id="sweeper")
    assert [turn.id for turn in taken] == [lost]
    turn = await store.get_turn(kept)
    assert turn is not None and turn.status is TurnStatus.QUEUED


async def test_leases_are_measured_on_the_database_servers_clock(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, sweeper = (SqlStore.from_url(POSTGRES_URL, **in_schema(pg_schema)) for _ in range(2))
    try:
        # The live instance's host clock runs two hours behind the sweeper's: its
        # heartbeats still count as fresh.
        behind = datetime.now(UTC) - timedelta(hours=2)
        with monkeypatch.context() as on_its_host:
            on_its_host.setattr(clock, "now", lambda: behind)
            await live.heartbeat("live")
            [turn_id] = await queued(live, 1, instance="live")
        assert await sweeper.interrupt_unfinished(lease_s=90, instance_id="sweeper") == []
        turn = await sweeper.get_turn(turn_id)
        assert turn is not None and turn.status is TurnStatus.QUEUED
    finally:
        await live.close()
        await sweeper.close()


async def test_a_delivery_is_taken_once_and_forgotten_later(store: SqlStore) -> None:
    assert await store.claim_delivery("telegram", "update:41")
    assert not await store.claim_delivery("telegram", "update:41")
    assert await store.claim_delivery("discord", "update:41")
    await asyncio.sleep(0.2)
    await store.prune(deliveries_kept_s=0.1, instances_kept_s=24 * 3600)
    assert await store.claim_delivery("telegram", "update:41")


async def test_a_batch_of_deliveries_is_claimed_in_one_go(store: SqlStore) -> None:
    assert await store.claim_delivery("telegram", "update:50")
    message = Reception("update:52", "7", "3", {"update_id": 52, "message": {"text": "a kite"}}, "i1")
    firsts = await store.claim_deliveries(
        "telegram",
        [("update:50", None), ("update:51", None), ("update:52", message), ("update:51", None)],
    )
    # Taken before, new, new (a message, kept), and the same id twice in one batch.
    assert firsts == [False, True, True, False]
    assert await store.claim_deliveries("telegram", []) == []
    [kept] = await store.take_receptions("telegram", "i2", lease_s=0.0)
    assert (kept.delivery_id, kept.chat_id, kept.message_id) == ("update:52", "7", "3")
    assert kept.payload == message.payload


async def test_stats_count_turns_errors_and_cost(store: SqlStore) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    done, failed, cancelled = await queued(store, 3)
    await store.finish_turn(done, Outcome(TurnStatus.DONE, output_blobs=["x", "y"], cost_usd=0.4))
    await store.finish_turn(failed, Outcome(TurnStatus.FAILED, error_kind="rate_limited"))
    await store.finish_turn(cancelled, Outcome(TurnStatus.CANCELLED, error_kind="cancelled"))
    await store.create_turn(new_turn(instance="a"))
    stats = await store.stats(start)
    assert stats.turns_by_status == {"done": 1, "failed": 1, "cancelled": 1, "queued": 1}
    assert stats.errors_by_kind == {"rate_limited": 1}
    assert stats.images == 2 and stats.cost_usd == pytest.approx(0.4)
    assert stats.by_platform["tg"][0] == 2 and stats.by_platform["tg"][1] == pytest.approx(0.4)
    assert (await store.stats(datetime.now(UTC) + timedelta(hours=1))).turns_by_status == {}
