"""Storage details: the blob store, SQLite's WAL, migrations, records."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.blobs import BlobNotFound
from bot.engine.records import MessageKey, SentMessage, TurnStatus, UserRecord
from bot.engine.store import NewTurn, Outcome, SlotRequest, SlotStatus
from storage.blobs import FileBlobStore
from storage.db import create_engine, upgrade
from storage.group_commit import GroupCommit
from storage.sql import SqlStore
from tests.helpers import png


async def test_blobs_are_content_addressed_and_pruned(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    data = png("red")
    blob_id = await blobs.put(data)
    assert blob_id == await blobs.put(data)  # the same content, the same id
    assert await blobs.get(blob_id) == data
    assert blobs.path(blob_id).relative_to(tmp_path / "blobs").parts == (blob_id[:2], blob_id[2:])
    assert not list((tmp_path / "blobs").glob("**/.tmp-*"))

    old = await blobs.put(png("blue"))
    stale = time.time() - 100 * 86400
    os.utime(blobs.path(old), (stale, stale))
    assert await blobs.prune(90) == 1
    with pytest.raises(BlobNotFound):
        await blobs.get(old)
    assert await blobs.get(blob_id) == data
    with pytest.raises(BlobNotFound):
        await blobs.get("../../etc/passwd")


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'redraw.db'}"
    await upgrade(url)
    engine = create_engine(url)
    async with engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        tables = {row[0] for row in await connection.execute(text("SELECT name FROM sqlite_master"))}
    await engine.dispose()
    assert {
        "turns",
        "inbound_keys",
        "message_keys",
        "chat_settings",
        "users",
        "usage_ledger",
        "instances",
        "deliveries",
        "alembic_version",
    } <= tables
    await upgrade(url)  # idempotent


async def test_records_round_trip(store: SqlStore) -> None:
    key = MessageKey("tg", "chat", "7")
    turn = await store.create_turn(
        NewTurn(
            "tg",
            "chat",
            "user",
            "a cat",
            "images",
            "gpt-image-2",
            {"size": "auto"},
            inbound=key,
            input_blobs=["a" * 64],
        )
    )
    assert turn is not None and turn.inbound == key and turn.status is TurnStatus.QUEUED
    assert turn.created_at is not None and turn.created_at.tzinfo is not None
    child = await store.create_turn(
        NewTurn("tg", "chat", "user", "red", "images", "gpt-image-2", {}, parent_id=turn.id, parent_image=1)
    )
    assert child is not None and [t.id for t in await store.lineage(child.id)] == [turn.id, child.id]

    await store.record_messages([SentMessage(MessageKey("tg", "chat", "8"), turn.id, "image", 0)])
    assert await store.sent_message(MessageKey("tg", "chat", "8")) == SentMessage(
        MessageKey("tg", "chat", "8"), turn.id, "image", 0
    )
    assert await store.sent_message(MessageKey("tg", "other", "8")) is None

    roomy = SlotRequest(per_user=1, per_chat=1, overall=1, estimate_usd=0.1)
    assert (await store.claim_slot(turn.id, roomy)).status is SlotStatus.CLAIMED
    assert (await store.claim_slot(turn.id, roomy)).status is SlotStatus.GONE
    done = await store.finish_turn(turn.id, Outcome(TurnStatus.DONE, {"images": ["b"]}, ["b"], cost_usd=0.2))
    assert done.output_blobs == ["b"] and done.finished_at is not None
    since = datetime.now(UTC) - timedelta(hours=1)
    for scope in ({"user_id": "user"}, {"chat_id": "chat"}):
        images, cost = await store.usage("tg", since, **scope)
        assert images == 1 and cost == pytest.approx(0.2)
    assert await store.usage("tg", since, user_id="someone") == (0, 0.0)
    assert [t.id for t in await store.interrupt_unfinished()] == [child.id]

    await store.put_user(UserRecord("tg", "user", blocked=True))
    assert await store.user("tg", "user") == UserRecord("tg", "user", blocked=True)
    await store.delivered(
        [SentMessage(MessageKey("tg", "chat", "9"), turn.id, "image", 0)], "tg", "chat", turn.id
    )
    state = await store.update_chat("tg", "chat", settings={"size": "1024x1024"})
    assert state.latest_turn_id == turn.id
    assert (await store.sent_message(MessageKey("tg", "chat", "9"))) is not None
    assert (await store.update_chat("tg", "chat", clear_latest=True)).settings == {"size": "1024x1024"}
    assert (await store.chat_state("tg", "chat")).latest_turn_id is None


async def test_lineage_is_root_first_and_stops_at_a_thousand(store: SqlStore) -> None:
    """One recursive query on either database: the nearest 1000 turns of the chain, root first."""
    ids: list[int] = []
    parent: int | None = None
    for n in range(1003):
        turn = await store.create_turn(
            NewTurn("tg", "chat", "user", f"step {n}", "images", "gpt-image-2", {}, parent_id=parent)
        )
        assert turn is not None
        ids.append(turn.id)
        parent = turn.id
    assert [t.id for t in await store.lineage(ids[4])] == ids[:5]
    assert [t.id for t in await store.lineage(ids[-1])] == ids[3:]
    assert await store.lineage(ids[-1] + 1) == []


async def test_chat_tree_is_the_chats_drawn_turns_oldest_first(store: SqlStore) -> None:
    """The versions page's query: done turns of one chat, branches and all, none of another's."""
    made: list[int] = []
    for n, (chat, parent) in enumerate([("a", None), ("a", 0), ("a", 0), ("b", None), ("a", 1)]):
        parent_id = made[parent] if parent is not None else None
        turn = await store.create_turn(
            NewTurn("tg", chat, "user", f"v{n}", "images", "gpt-image-2", {}, parent_id=parent_id)
        )
        assert turn is not None
        made.append(turn.id)
    failed = await store.create_turn(NewTurn("tg", "a", "user", "broken", "images", "gpt-image-2", {}))
    assert failed is not None
    for turn_id in made:
        await store.finish_turn(turn_id, Outcome(TurnStatus.DONE, output_blobs=["blob"]))
    await store.finish_turn(failed.id, Outcome(TurnStatus.FAILED, error_kind="upstream"))

    tree = await store.chat_tree("tg", "a")
    assert [t.id for t in tree] == [made[0], made[1], made[2], made[4]]
    assert [t.parent_id for t in tree] == [None, made[0], made[0], made[1]]
    assert [t.id for t in await store.chat_tree("tg", "a", limit=2)] == [made[2], made[4]]
    assert await store.chat_tree("tg", "nobody") == []


async def test_picture_message_finds_where_a_picture_is_shown(store: SqlStore) -> None:
    turn = await store.create_turn(NewTurn("tg", "chat", "user", "a fox", "images", "gpt-image-2", {}))
    assert turn is not None
    shown = [
        SentMessage(MessageKey("tg", "chat", "10"), turn.id, "image", 0),
        SentMessage(MessageKey("tg", "chat", "11"), turn.id, "image", 1),
        SentMessage(MessageKey("tg", "chat", "12"), turn.id, "caption", 0),
    ]
    await store.record_messages(shown)
    assert await store.picture_message(turn.id) == MessageKey("tg", "chat", "10")
    assert await store.picture_message(turn.id, 1) == MessageKey("tg", "chat", "11")
    assert await store.picture_message(turn.id, 2) is None
    assert await store.picture_message(turn.id + 1) is None


async def test_group_commit_never_strands_a_write() -> None:
    """A caller woken by its write's result submits the next at once, while the writer
    that served it is winding down (as the engine does after sending images)."""

    async def run(work: Any) -> Any:
        await asyncio.sleep(0)
        return work(None)

    def value(n: int) -> Any:
        return lambda _connection: n

    async def chain(commit: GroupCommit, length: int) -> list[int]:
        return [await commit.submit(value(n)) for n in range(length)]

    for writers in (1, 3):
        commit = GroupCommit(run, writers)
        assert await asyncio.wait_for(chain(commit, 20), timeout=5) == list(range(20))
        several = await asyncio.wait_for(asyncio.gather(*(chain(commit, 10) for _ in range(5))), timeout=5)
        assert several == [list(range(10))] * 5


async def test_group_commit_isolates_a_failing_write() -> None:
    async def run(work: Any) -> Any:
        return work(None)

    def fail(_connection: Any) -> None:
        raise ValueError("bad write")

    commit = GroupCommit(run)
    outcomes = await asyncio.gather(
        commit.submit(lambda _c: "ok"), commit.submit(fail), return_exceptions=True
    )
    assert outcomes[0] == "ok" and isinstance(outcomes[1], ValueError)
