"""Region edits through the engine alone: an Inbound with a mask (what the painter page
submits) replying to a picture, checked before any call; once per claim."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from PIL import Image

from bot.engine.records import MessageKey, TurnStatus
from tests.region_checks import mask_of
from tests.test_engine import MakeWorld, World, make_world  # noqa: F401 - make_world: a fixture


@pytest.fixture
async def world(make_world: MakeWorld) -> World:  # noqa: F811 - the imported fixture
    return make_world()


def painted(size: tuple[int, int], box: tuple[int, int, int, int] | None) -> bytes:
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    if box is not None:
        mask.paste((0, 0, 0, 0), box)
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return buffer.getvalue()


async def picture(world: World) -> MessageKey:
    await world.say("a blue cat")
    return world.channel.of("images")[-1].keys[0]


async def test_a_painted_mask_edits_the_replied_picture_once(world: World) -> None:
    shown = await picture(world)
    mask = painted((1024, 1024), (0, 0, 512, 512))
    submit = replace(world.inbound("make it red", reply_to=shown), key=shown, mask=mask, claim="web:token-1")
    await world.engine.handle(submit, world.channel)
    await world.engine.drain()
    # The same submit again (a double click, a retried POST) makes nothing more.
    await world.engine.handle(submit, world.channel)
    await world.engine.drain()
    calls = world.provider_calls()
    assert len(calls) == 2 and calls[1].path.endswith("/images/edits")
    assert mask_of(calls[1]) == mask
    answer = world.channel.of("images")[-1]
    assert answer.reply_to == shown  # replying to the picture
    turn = await world.store.get_turn(answer.actions[0].turn_id)
    assert turn is not None and turn.mask_blob is not None and turn.parent_id is not None


async def test_a_mask_of_nothing_or_the_wrong_size_calls_nobody(world: World) -> None:
    shown = await picture(world)
    for mask, words in (
        (painted((1024, 1024), None), "Nothing is marked"),
        (painted((512, 512), (0, 0, 100, 100)), "size"),
    ):
        submit = replace(world.inbound("make it red", reply_to=shown), mask=mask)
        await world.engine.handle(submit, world.channel)
        await world.engine.drain()
        assert words in world.channel.of("text")[-1].text
    assert len(world.provider_calls()) == 1
    failed = [turn for turn in await world.store.lineage(1)]
    assert failed[0].status is TurnStatus.DONE
