"""Hostile inputs over the real discord.py: what is refused from Discord's own attachment
metadata (nothing downloaded, nothing asked of the provider), invisible prompts, and
prompts that try to post markdown or mentions through the bot."""

from __future__ import annotations

import re

from adapters.discord_adapter.markdown import plain
from tests.discord.conftest import ALICE, BOB, LI, DiscordWorld
from tests.fakes.discord_server import FakeDiscord
from tests.helpers import png

INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\ufe0f"
HOSTILE = (
    "[free nitro](https://evil.example/a) and [more](https://evil.example/b) **now** ||hidden|| "
    "~~gone~~ `code` @everyone @here \\[sneaky](https://evil.example/c)"
)


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


def shown_as_written(content: str) -> None:
    """Every markdown character in ``content`` is escaped (an odd run of backslashes before it)."""
    for found in re.finditer(r"(\\*)([\[*_~|`])", content):
        assert len(found.group(1)) % 2 == 1, f"unescaped {found.group(2)!r} in {content!r}"
    assert "@everyone" not in content and "@here" not in content


async def test_a_caption_cannot_post_links_markdown_or_mentions(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, HOSTILE, guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    assert "free nitro" in picture["content"] and "@\u200beveryone" in picture["content"]
    shown_as_written(picture["content"].split("\n💲")[0])
    sent = dc.calls_to("POST", f"/channels/{world.channel}/messages")
    assert all(call.body["allowed_mentions"]["parse"] == [] for call in sent)
    # Escaping is for showing: the provider gets the prompt as written.
    assert "[free nitro](https://evil.example/a)" in str(world.provider_calls()[0].json)


async def test_the_imagine_card_shows_the_prompt_as_written(world: DiscordWorld, dc: FakeDiscord) -> None:
    run = await dc.slash(ALICE, "imagine", {"prompt": HOSTILE}, guild=world.guild)
    card = await dc.wait_for(lambda: run.original_id, what="the card")
    await dc.wait_picture(world.channel)
    await dc.settle()
    # The card keeps what was asked on top (a quick picture takes the card's place below it).
    content = dc.messages[card]["content"]
    assert content.startswith("**")
    shown_as_written(content[2 : content.index("**", 2)])


def test_lines_links_and_length() -> None:
    text = "# big\n> quoted\n-# small\n - listed\nsee https://example.com/a_b_(c) or _that_"
    escaped = plain(text)
    assert escaped.split("\n")[:4] == ["\\# big", "\\> quoted", "\\-# small", " \\- listed"]
    # A bare link stays clickable: no backslash inside it.
    assert "https://example.com/a_b_(c)" in escaped and "\\_that\\_" in escaped
    worst = "[*_~|`\\@everyone" * 100
    assert len(plain(worst)) <= 2 * len(worst)
