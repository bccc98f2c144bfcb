"""Two engines on one PostgreSQL database, as two instances of the bot: limits hold
across them, and recovery never takes a turn the other is still running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.backends import ImagesBackend
from bot.backends.http import UpstreamClient
from bot.engine.entry import Engine
from bot.engine.options import EngineOptions, Limits
from bot.engine.records import TurnStatus
from bot.engine.seams import ActionKind
from storage.blobs import FileBlobStore
from storage.db import in_schema
from storage.sql import SqlStore
from tests.conftest import POSTGRES_URL, TEST_API_KEY
from tests.fakes.channel import CollectingChannel
from tests.fakes.openai_server import FakeOpenAI
from tests.test_engine import MODELS, World, lose_database, until_called, until_status

Instance = Callable[..., World]


@pytest.fixture
async def instance(pg_schema: str, fake: FakeOpenAI, file_blobs: FileBlobStore) -> AsyncIterator[Instance]:
    """Each call is one more bot process: its own connections, client, engine and chat."""
    opened: list[tuple[SqlStore, UpstreamClient, Engine]] = []

    def build(**options: Any) -> World:
        store = SqlStore.from_url(POSTGRES_URL, **in_schema(pg_schema))
        client = UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY)
        backends = {"images": ImagesBackend(client, file_blobs, [MODELS["images"]], partial_images=0)}
        options = {"default_backend": "images", "models": MODELS, "slot_poll_s": 0.05, **options}
        engine = Engine(store, file_blobs, backends, EngineOptions(**options))
        opened.append((store, client, engine))
        return World(engine, CollectingChannel(), fake, store, client)

    yield build
    for store, client, engine in opened:
        await engine.shutdown(0)
        await client.aclose()
        await store.close()


async def test_a_users_limit_holds_across_instances(instance: Instance, fake: FakeOpenAI) -> None:
    one = instance(limits=Limits(per_user=1))
    other = instance(limits=Limits(per_user=1), status_after_s=0.05)
    fake.fail("slow", delay=0.5)
    first = one.inbound("a red fox", message_id="m1")
    await one.engine.handle(first, one.channel)
    await until_called(fake)
    # The same user, through the other instance: it waits for the first to finish.
    await other.engine.handle(other.inbound("a blue fox", message_id="m2"), other.channel)
    await asyncio.sleep(0.2)
    assert len(other.provider_calls()) == 1
    [waiting] = other.channel.of("progress")
    assert "number 1 in line" in waiting.text  # its place in line, as its status
    await one.engine.drain()
    await other.engine.drain()
    assert len(one.channel.results) == 1 and len(other.channel.results) == 1
    assert len(other.provider_calls()) == 2


async def test_recovery_spares_a_live_instance_and_sweeps_up_after_a_dead_one(
    instance: Instance, fake: FakeOpenAI
) -> None:
    # The status shows at once: its Cancel button names the turn.
    one = instance(heartbeat_s=0.05, lease_s=0.5, status_after_s=0)
    await one.engine.recover({"test": one.channel})
    fake.fail("slow", delay=30)
    prompt = one.inbound("a purple crab")
    await one.engine.handle(prompt, one.channel)
    await until_called(fake)
    turn_id = await until_status(one)

    # A second instance starts while the first is drawing: the turn is not its to take.
    other = instance(heartbeat_s=0.05, lease_s=0.5)
    assert await other.engine.recover({"test": other.channel}) == []
    await asyncio.sleep(0.7)  # longer than the lease: the first instance's heartbeat keeps it
    turn = await other.store.get_turn(turn_id)
    assert turn is not None and turn.status is TurnStatus.RUNNING
    assert other.channel.said == []

    # The first instance dies: no more heartbeat, nothing more written.
    assert one.engine.lease.heartbeat is not None
    one.engine.stop_heartbeat()
    lose_database(one.engine)
    one.engine.cancel(turn_id)
    await one.engine.drain()

    for _ in range(100):
        if other.channel.of("text"):
            break
        await asyncio.sleep(0.05)
    [notice] = other.channel.of("text")
    assert notice.reply_to == prompt.key and notice.actions[0].kind is ActionKind.RETRY
    await other.press(ActionKind.RETRY, turn_id)
    assert len(other.channel.results) == 1
