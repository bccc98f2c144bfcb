"""Buttons over the real discord.py: ids that name the turn, regenerate, variations,
original, undo, cancel and retry."""

from __future__ import annotations

from typing import Any

from tests.discord.conftest import ALICE, BOB, DiscordWorld
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name


def custom_ids(dc: FakeDiscord, message_id: int) -> list[str]:
    rows = dc.messages[message_id]["components"]
    return [component["custom_id"] for row in rows for component in row["components"]]


async def test_custom_ids_name_the_turn(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, "a red cup", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    ids = custom_ids(dc, int(picture["id"]))
    assert [custom_id.rsplit(":", 1)[0] for custom_id in ids] == ["a:r", "a:v", "a:o", "a:u", "a:e", "a:h"]
    assert len({custom_id.rsplit(":", 1)[1] for custom_id in ids}) == 1
    assert all(len(custom_id) <= 100 for custom_id in ids)


async def test_regenerate_draws_the_same_prompt_again(world: DiscordWorld, dc: FakeDiscord) -> None:
    prompt = await dc.say(ALICE, "a purple hat", guild=world.guild, mention_bot=True)
    first = await dc.wait_picture(world.channel)
    press = await dc.press(int(first["id"]), "🔁", BOB, guild=world.guild)
    again = await dc.wait_picture(world.channel, after=int(first["id"]))
    assert press.callbacks[0]["type"] == 6  # acknowledged without a message
    assert again["message_reference"]["message_id"] == str(prompt)
    assert colour_name(dc.file(again["attachments"][0])) == "purple"
    assert len(world.provider_calls()) == 2


async def variations(dc: FakeDiscord, world: DiscordWorld, prompt: str) -> list[dict[str, Any]]:
    """Alice draws ``prompt`` and presses 🎲: the variations' messages, once the last (with
    the buttons) is there."""
    await dc.say(ALICE, prompt, guild=world.guild, mention_bot=True)
    first = await dc.wait_picture(world.channel)
    await dc.press(int(first["id"]), "🎲", ALICE, guild=world.guild)
    await dc.wait_message(
        world.channel,
        lambda m: int(m["id"]) > int(first["id"]) and bool(m["components"]) and bool(m["attachments"]),
        what="the variations' buttons",
    )
    return [m for m in dc.bot_messages(world.channel) if int(m["id"]) > int(first["id"])]


async def test_variations_come_one_picture_a_message_with_the_buttons_on_the_last(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    drawn = await variations(dc, world, "a green leaf")
    last = drawn[-1]
    assert len(drawn) == 3 and bool(last["components"]) and bool(last["attachments"])
    assert [len(m["attachments"]) for m in drawn] == [1, 1, 1]
    assert [bool(m["components"]) for m in drawn] == [False, False, True]
    # Replying to the second variation continues from exactly that one.
    await dc.say(ALICE, "make it orange", guild=world.guild, reply_to=int(drawn[1]["id"]))
    edited = await dc.wait_picture(world.channel, after=int(last["id"]))
    assert colour_name(dc.file(edited["attachments"][0])) == "orange"


async def test_original_sends_the_file_itself(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, "a yellow star", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    await dc.press(int(picture["id"]), "📎", ALICE, guild=world.guild)
    original = await dc.wait_message(
        world.channel, lambda m: m["attachments"] and not m["components"], what="the original"
    )
    assert original["message_reference"]["message_id"] == picture["id"]
    assert dc.file(original["attachments"][0]) == dc.file(picture["attachments"][0])
    assert original["attachments"][0]["filename"].endswith(".png")


async def test_undo_shows_the_previous_version_and_continues_from_it(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    await dc.say(ALICE, "a blue car", guild=world.guild, mention_bot=True)
    first = await dc.wait_picture(world.channel)
    await dc.say(ALICE, "make it red", guild=world.guild, reply_to=int(first["id"]))
    second = await dc.wait_picture(world.channel, after=int(first["id"]))
    await dc.press(int(second["id"]), "↩️", ALICE, guild=world.guild)
    back = await dc.wait_picture(world.channel, after=int(second["id"]))
    assert colour_name(dc.file(back["attachments"][0])) == "blue"
    assert "Back to the previous version" in back["content"]


async def test_cancel_stops_the_drawing_and_charges_nothing(
    world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.fail("slow", delay=30)
    await dc.say(ALICE, "a slow blue snail", guild=world.guild, mention_bot=True)
    progress = await dc.wait_text(world.channel, "Drawing")
    await dc.wait_for(world.provider_calls, what="the provider call")
    # Someone else can't cancel it.
    await dc.press(int(progress["id"]), "✖", BOB, guild=world.guild)
    await dc.wait_text(world.channel, "Only the person who asked")
    press = await dc.press(int(progress["id"]), "✖", ALICE, guild=world.guild)
    cancelled = await dc.wait_text(world.channel, "Cancelled. Nothing was charged")
    assert press.callbacks[0]["type"] == 4 and press.callbacks[0]["data"]["flags"] & 64
    await dc.settle()
    assert [m for m in dc.bot_messages(world.channel) if m["attachments"]] == []
    # The channel's status board went with its only picture; the answer stays.
    assert progress.get("deleted") and not cancelled.get("deleted")
    usage = await dc.slash(ALICE, "usage", guild=world.guild)
    await dc.wait_for(
        lambda: "today 0 images" in dc.messages.get(usage.original_id or 0, {}).get("content", "")
    )


async def test_cancel_on_an_imagine_card(world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI) -> None:
    fake.fail("slow", delay=30)
    run = await dc.slash(ALICE, "imagine", {"prompt": "a slow red crab"}, guild=world.guild)
    card_id = await dc.wait_for(lambda: run.original_id, what="the card")
    await dc.wait_for(lambda: dc.buttons(card_id) == ["✖ Cancel"], what="the Cancel button")
    await dc.wait_for(world.provider_calls, what="the provider call")
    await dc.press(card_id, "✖", ALICE, guild=world.guild)
    cancelled = await dc.wait_text(world.channel, "Cancelled")
    # The card became the answer, the prompt still on top, no buttons left.
    assert int(cancelled["id"]) == card_id
    await dc.settle()
    assert dc.messages[card_id]["content"].startswith("**a slow red crab**\n✖ Cancelled")
    assert dc.buttons(card_id) == []
