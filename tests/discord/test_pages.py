"""The painter and versions pages reached from Discord (REDRAW_PUBLIC_URL set): a link
button on the grid, which only its opener sees; the page's submit lands in the channel,
replying to the picture; 🌳 All versions comes as an ephemeral follow-up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.engine.records import MessageKey
from tests.discord.conftest import ALICE, DiscordWorld
from tests.discord.test_buttons import variations
from tests.discord.test_regions import open_grid
from tests.fakes.discord_server import FakeDiscord
from tests.helpers import colour_name
from tests.web import chat


@pytest.fixture
async def pages(idle_world: DiscordWorld) -> DiscordWorld:
    await idle_world.start(**chat.serve_on_localhost())
    return idle_world


def link_button(message: dict[str, Any], label: str) -> dict[str, Any]:
    for row in message.get("components", []):
        for item in row.get("components", []):
            if item.get("label", "").startswith(label):
                return dict(item)
    raise AssertionError(f"no {label!r} button")


async def test_the_grids_link_leads_to_a_page_whose_submit_lands_in_the_channel(
    pages: DiscordWorld, dc: FakeDiscord
) -> None:
    world = pages
    await dc.say(ALICE, "a blue house", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    grid = await open_grid(dc, world, picture)
    assert dc.messages[grid]["flags"] == 64  # only Alice sees the link
    paint = link_button(dc.messages[grid], "🖌")
    assert paint["style"] == 5 and "custom_id" not in paint
    claim = chat.claim_of(world.settings, paint["url"])
    assert (claim.platform, claim.chat_id, claim.user_id) == ("discord", str(world.channel), str(ALICE.id))
    status, page = await chat.get(paint["url"])
    assert status == 200 and 'id="painter"' in page
    mask = chat.mask_png(1024, 1024, (0, 0, 512, 512))
    status, answer = await chat.submit(paint["url"], "make it red", mask, submission="discord-0001")
    assert status == 200, answer
    edited = await dc.wait_picture(world.channel, after=int(picture["id"]))
    assert colour_name(dc.file(edited["attachments"][0])) == "red"
    assert edited["message_reference"]["message_id"] == picture["id"]
    # The same submission again: one turn.
    status, _ = await chat.submit(paint["url"], "make it red", mask, submission="discord-0001")
    assert status == 200
    await dc.settle()
    assert len(world.provider_calls()) == 2


async def test_versions_link_is_an_ephemeral_follow_up(pages: DiscordWorld, dc: FakeDiscord) -> None:
    world = pages
    await dc.say(ALICE, "a blue fox", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    await dc.press(int(picture["id"]), "🌳", ALICE, guild=world.guild)
    offer = await dc.wait_message(
        world.channel, lambda m: "Every version" in m.get("content", ""), what="the versions link"
    )
    assert offer["flags"] == 64
    url = link_button(offer, "🌳 All versions")["url"]
    status, page = await chat.get(url)
    assert status == 200 and "a blue fox" in page


async def test_the_painter_paints_the_variation_its_grid_was_opened_on(
    pages: DiscordWorld, dc: FakeDiscord
) -> None:
    world = pages
    drawn = await variations(dc, world, "a green leaf")
    assert len(drawn) == 3
    last = drawn[-1]
    # ✏️ is on the last variation: its grid, and the painter from it, are over that picture.
    grid = await open_grid(dc, world, last)
    paint = link_button(dc.messages[grid], "🖌")
    assert chat.claim_of(world.settings, paint["url"]).image_index == 2
    mask = chat.mask_png(1024, 1024, (0, 0, 512, 512))
    status, answer = await chat.submit(paint["url"], "make it red", mask, submission="discord-var-2")
    assert status == 200, answer
    edited = await dc.wait_picture(world.channel, after=int(last["id"]))
    # The answer replies to the third variation, and continues from it.
    assert edited["message_reference"]["message_id"] == last["id"]
    engine = world.runtimes[-1].engine
    key = MessageKey("discord", str(world.channel), edited["id"])
    # The picture's key is stored just after the picture is sent.
    for _ in range(100):
        if (shown := await engine.store.sent_message(key)) is not None:
            break
        await asyncio.sleep(0.05)
    assert shown is not None
    painted = await engine.store.get_turn(shown.turn_id)
    assert painted is not None and painted.parent_image == 2 and painted.mask_blob is not None
