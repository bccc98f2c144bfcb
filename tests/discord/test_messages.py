"""Messages over the real discord.py: mentions, replies, uploads, DMs, languages, the intent."""

from __future__ import annotations

import hashlib

import pytest

from bot.engine.options import EngineOptions
from bot.errors import StartupError
from tests.discord.conftest import ALICE, BOB, DiscordWorld
from tests.fakes.discord_server import MESSAGE_CONTENT_INTENT, FakeDiscord, User
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, png


async def test_a_mention_draws(world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI) -> None:
    fake.fail("slow", delay=0.6)
    prompt = await dc.say(ALICE, "a red fox in the snow", guild=world.guild, mention_bot=True)
    # A server's channel: the pictures in progress share one status message, a line each.
    board = await dc.wait_text(world.channel, "Drawing")
    assert board["content"].startswith("1. a red fox in the snow · 🎨 Drawing")
    assert dc.buttons(int(board["id"])) == ["✖ 1"]

    picture = await dc.wait_picture(world.channel)
    assert picture["message_reference"]["message_id"] == str(prompt)
    assert "a red fox in the snow" in picture["content"] and "💲" in picture["content"]
    assert colour_name(dc.file(picture["attachments"][0])) == "red"
    assert dc.buttons(int(picture["id"])) == [
        "🔁 Regenerate",
        "🎲 Variations",
        "📎 Original",
        "↩️ Undo",
        "✏️ Edit a region",
        "🌳 Versions",
    ]
    await dc.settle()
    # The board went with the last picture; the bot's mention is not in the prompt.
    assert [m["id"] for m in dc.bot_messages(world.channel)] == [picture["id"]]
    assert world.provider_calls()[0].json["input"][0]["content"][0]["text"].startswith("a red fox")
    # The user is pinged by the picture (a reply), by nothing else; no typing indicator.
    sent = dc.calls_to("POST", f"/channels/{world.channel}/messages")
    assert [call.body["allowed_mentions"] for call in sent] == [
        {"parse": []},  # replied_user defaults to false
        {"parse": [], "replied_user": True},
    ]
    assert dc.calls_to("POST", f"/channels/{world.channel}/typing") == []


async def test_in_a_dm_the_status_becomes_the_picture(
    world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.fail("slow", delay=0.6)
    dm = dc.dm_channel(ALICE)
    prompt = await dc.say(ALICE, "a green fox")
    status = await dc.wait_text(dm, "Drawing")
    assert status["message_reference"]["message_id"] == str(prompt)
    assert dc.buttons(int(status["id"])) == ["✖ Cancel"]
    picture = await dc.wait_picture(dm)
    await dc.settle()
    # One message: the status, edited into the picture.
    assert picture["id"] == status["id"] and [m["id"] for m in dc.bot_messages(dm)] == [picture["id"]]
    assert dc.calls_to("DELETE", f"/channels/{dm}/messages/") == []


async def test_a_quick_picture_is_one_message_that_pings_its_author(
    idle_world: DiscordWorld, dc: FakeDiscord
) -> None:
    await idle_world.start(status_after_s=EngineOptions().status_after_s)
    prompt = await dc.say(ALICE, "a blue fox", guild=idle_world.guild, mention_bot=True)
    picture = await dc.wait_picture(idle_world.channel)
    await dc.settle()
    assert picture["message_reference"]["message_id"] == str(prompt)
    [sent] = dc.calls_to("POST", f"/channels/{idle_world.channel}/messages")
    assert sent.body["allowed_mentions"] == {"parse": [], "replied_user": True}
    assert [call for call in dc.calls if call.method in ("PATCH", "DELETE")] == []
    assert dc.calls_to("POST", f"/channels/{idle_world.channel}/typing") == []


async def test_a_guild_message_without_a_mention_is_ignored(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, "a red fox, but I am talking to Bob", guild=world.guild)
    await dc.say(ALICE, "@everyone look", guild=world.guild)
    await dc.settle(quiet=0.5)
    assert dc.bot_messages(world.channel) == []
    assert world.provider_calls() == []


async def test_a_prompt_pings_nobody(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, "@everyone a green banner for <@302>", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    # Shown, but not as a mention (a zero-width space after the @).
    assert "@\u200beveryone" in picture["content"] and "@everyone" not in picture["content"]
    sent = dc.calls_to("POST", f"/channels/{world.channel}/messages")
    assert all(call.body["allowed_mentions"]["parse"] == [] for call in sent)


async def test_a_reply_to_the_bots_image_edits_it_without_a_mention(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    await dc.say(ALICE, "a blue boat", guild=world.guild, mention_bot=True)
    first = await dc.wait_picture(world.channel)
    await dc.say(BOB, "make it red", guild=world.guild, reply_to=int(first["id"]))
    second = await dc.wait_picture(world.channel, after=int(first["id"]))
    await dc.say(ALICE, "now make it green", guild=world.guild, reply_to=int(second["id"]))
    third = await dc.wait_picture(world.channel, after=int(second["id"]))
    colours = [colour_name(dc.file(m["attachments"][0])) for m in (first, second, third)]
    assert colours == ["blue", "red", "green"]
    calls = world.provider_calls()
    # Each edit continues the response that drew the picture replied to.
    assert calls[1].json["previous_response_id"] and calls[2].json["previous_response_id"]
    assert calls[1].json["previous_response_id"] != calls[2].json["previous_response_id"]


async def test_a_reply_to_someones_image_with_a_mention_restyles_it(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    photo = png("yellow", (320, 200))
    posted = await dc.say(BOB, "my cat", guild=world.guild, attachments=[dc.upload("cat.png", photo)])
    # Without a mention a reply to someone else's picture is not for the bot.
    await dc.say(ALICE, "as a watercolour", guild=world.guild, reply_to=posted)
    await dc.settle(quiet=0.5)
    assert world.provider_calls() == []

    await dc.say(ALICE, "as a watercolour", guild=world.guild, reply_to=posted, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    assert colour_name(dc.file(picture["attachments"][0])) == "yellow"
    call = world.provider_calls()[0]
    assert call.input_image_hashes() == [hashlib.sha256(photo).hexdigest()]


async def test_a_mention_with_images_uses_them(world: DiscordWorld, dc: FakeDiscord) -> None:
    images = [png("blue", (200, 200)), png("red", (240, 160))]
    attachments = [dc.upload(f"in-{n}.png", data) for n, data in enumerate(images)]
    await dc.say(ALICE, "put them side by side", guild=world.guild, mention_bot=True, attachments=attachments)
    await dc.wait_picture(world.channel)
    assert world.provider_calls()[0].input_image_hashes() == [hashlib.sha256(d).hexdigest() for d in images]


async def test_direct_messages_need_no_mention_and_continue_the_picture(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    dm = dc.dm_channel(ALICE)
    await dc.say(ALICE, "a blue kite")
    first = await dc.wait_picture(dm)
    # A plain follow-up in a DM continues the latest picture, as in ChatGPT.
    await dc.say(ALICE, "make it red")
    second = await dc.wait_picture(dm, after=int(first["id"]))
    assert colour_name(dc.file(second["attachments"][0])) == "red"
    assert world.provider_calls()[1].json["previous_response_id"]


async def test_a_non_image_file_is_answered_only_when_addressed(world: DiscordWorld, dc: FakeDiscord) -> None:
    clip = dc.upload("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    await dc.say(ALICE, "", guild=world.guild, attachments=[clip])
    await dc.settle(quiet=0.5)
    assert dc.bot_messages(world.channel) == []
    await dc.say(ALICE, "", guild=world.guild, attachments=[clip], mention_bot=True)
    answer = await dc.wait_text(world.channel, "not videos")
    assert "I can only work with pictures" in answer["content"]
    assert world.provider_calls() == []


async def test_the_guild_language_answers(world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI) -> None:
    chinese = dc.add_guild("画室", owner=ALICE, locale="zh-CN")
    await world.stop(world.runtimes[0])
    await world.start()  # the new guild arrives with the gateway's GUILD_CREATE
    fake.fail("slow", delay=0.6)
    await dc.say(ALICE, "一只蓝色的猫", guild=chinese, mention_bot=True)
    await dc.wait_text(chinese.channel_id, "正在")


async def test_slash_commands_work_without_the_message_content_intent(
    idle_world: DiscordWorld, dc: FakeDiscord
) -> None:
    dc.allowed_intents = 0
    with pytest.raises(StartupError, match="Message Content Intent"):
        await idle_world.start()

    await idle_world.start(discord_message_content=False)
    assert dc.intents is not None and not dc.intents & MESSAGE_CONTENT_INTENT
    await dc.slash(ALICE, "imagine", {"prompt": "a blue bird"}, guild=idle_world.guild)
    picture = await dc.wait_picture(idle_world.channel)
    assert colour_name(dc.file(picture["attachments"][0])) == "blue"
    # Discord still shows the bot the messages that mention it.
    await dc.say(ALICE, "a red bird", guild=idle_world.guild, mention_bot=True)
    second = await dc.wait_picture(idle_world.channel, after=int(picture["id"]))
    assert colour_name(dc.file(second["attachments"][0])) == "red"


async def test_other_bots_are_ignored(world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI) -> None:
    other = User(999, "OtherBot", bot=True)
    await dc.say(other, "a red fox", guild=world.guild, mention_bot=True)
    await dc.settle(quiet=0.5)
    assert dc.bot_messages(world.channel) == [] and fake.requests == []
