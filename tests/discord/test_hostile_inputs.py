"""Hostile inputs over the real discord.py: what is refused from Discord's own attachment
metadata (nothing downloaded, nothing asked of the provider), and invisible prompts."""

from __future__ import annotations

from tests.discord.conftest import ALICE, BOB, LI, DiscordWorld
from tests.fakes.discord_server import FakeDiscord
from tests.helpers import png

INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\ufe0f"


def nothing_fetched(world: DiscordWorld, dc: FakeDiscord) -> None:
    assert dc.downloads == []
    assert world.provider_calls() == []


async def test_too_many_images_are_refused_before_any_download(world: DiscordWorld, dc: FakeDiscord) -> None:
    theirs = [dc.upload(f"b{index}.png", png("blue", (64, 64 + index))) for index in range(10)]
    posted = await dc.say(BOB, "my sketches", guild=world.guild, attachments=theirs)
    mine = [dc.upload(f"a{index}.png", png("green", (64 + index, 64))) for index in range(7)]
    await dc.say(
        ALICE, "combine them all", guild=world.guild, mention_bot=True, attachments=mine, reply_to=posted
    )
    await dc.wait_text(world.channel, "That is 17 images; I can use at most 16")
    await dc.settle()
    nothing_fetched(world, dc)


async def test_a_picture_of_too_many_pixels_is_refused_unfetched(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    # 9000x9000 is 81 megapixels, a few hundred kilobytes of PNG: the attachment says so.
    bomb = dc.upload("wall.png", png("red", (9000, 9000)))
    assert (bomb["width"], bomb["height"]) == (9000, 9000)
    await dc.say(ALICE, "make it blue", guild=world.guild, mention_bot=True, attachments=[bomb])
    await dc.wait_text(world.channel, "Image 1 has 81 megapixels; I can take at most 64")
    await dc.settle()
    nothing_fetched(world, dc)


async def test_an_unreadable_type_is_refused_unfetched_in_chinese(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    raw = dc.upload("scan.jxl", b"\xff\x0a" + bytes(4096), content_type="image/jxl")
    run = await dc.slash(
        LI, "imagine", {"prompt": "变成水彩画"}, guild=world.guild, attachments={"image1": raw}
    )
    card = await dc.wait_for(lambda: run.original_id, what="the card")
    await dc.wait_for(lambda: "类型是 image/jxl" in dc.messages[card]["content"], what="the refusal")
    nothing_fetched(world, dc)


async def test_a_good_picture_is_still_fetched(world: DiscordWorld, dc: FakeDiscord) -> None:
    """The control for the tests above: the same path downloads when nothing is wrong."""
    photo = dc.upload("cat.png", png("yellow", (320, 200)))
    await dc.say(ALICE, "as a watercolour", guild=world.guild, mention_bot=True, attachments=[photo])
    await dc.wait_picture(world.channel)
    assert len(dc.downloads) == 1 and len(world.provider_calls()) == 1


async def test_an_invisible_prompt_is_an_empty_one(world: DiscordWorld, dc: FakeDiscord) -> None:
    run = await dc.slash(ALICE, "imagine", {"prompt": INVISIBLE}, guild=world.guild)
    card = await dc.wait_for(lambda: run.original_id, what="the card")
    await dc.wait_for(lambda: "Tell me what to draw" in dc.messages[card]["content"], what="the refusal")
    # A mention with only invisible text is a bare mention: not a drawing.
    await dc.say(ALICE, INVISIBLE, guild=world.guild, mention_bot=True)
    await dc.settle()
    nothing_fetched(world, dc)
