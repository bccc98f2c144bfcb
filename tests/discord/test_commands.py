"""Slash commands and select menus over the real discord.py: /imagine's card, options and
uploads, /settings for those who may manage the channel, /usage, /new, /history, /help."""

from __future__ import annotations

import hashlib

from tests.discord.conftest import ALICE, BOB, LI, DiscordWorld
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, png


async def test_imagine_defers_shows_progress_on_its_card_which_becomes_the_picture(
    world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.fail("slow", delay=0.6)
    run = await dc.slash(ALICE, "imagine", {"prompt": "a blue boat"}, guild=world.guild)
    await dc.wait_for(lambda: run.callbacks, what="the answer to the command")
    assert run.callbacks[0]["type"] == 5  # deferred: Discord wants an answer within 3 s
    card = dc.messages[await dc.wait_for(lambda: run.original_id, what="the card")]
    await dc.wait_for(lambda: "Drawing" in card["content"], what="progress on the card")
    assert card["content"].startswith("**a blue boat**")
    assert dc.buttons(int(card["id"])) == ["✖ Cancel"]

    picture = await dc.wait_picture(world.channel)
    # The card became the picture (one edit through the interaction): what was asked on top,
    # the picture's caption and buttons below. Nothing else was sent.
    assert picture["id"] == card["id"] and colour_name(dc.file(picture["attachments"][0])) == "blue"
    assert card["content"].startswith("**a blue boat**\n") and "💲" in card["content"]
    assert dc.buttons(int(card["id"])) == [
        "🔁 Regenerate",
        "🎲 Variations",
        "📎 Original",
        "↩️ Undo",
        "✏️ Edit a region",
        "🌳 Versions",
    ]
    await dc.settle()
    assert [m["id"] for m in dc.bot_messages(world.channel)] == [card["id"]]
    assert dc.calls_to("POST", f"/channels/{world.channel}/messages") == []


async def test_imagine_with_images_size_and_quality(world: DiscordWorld, dc: FakeDiscord) -> None:
    images = [png("red", (300, 200)), png("blue", (200, 300))]
    attachments = {f"image{n + 1}": dc.upload(f"in-{n}.png", data) for n, data in enumerate(images)}
    options = {"prompt": "fuse these", "size": "1536x1024", "quality": "low"}
    run = await dc.slash(ALICE, "imagine", options, guild=world.guild, attachments=attachments)
    await dc.wait_picture(world.channel)
    call = world.provider_calls()[0]
    assert call.input_image_hashes() == [hashlib.sha256(data).hexdigest() for data in images]
    tool = call.json["tools"][0]
    assert (tool["size"], tool["quality"]) == ("1536x1024", "low")
    assert dc.messages[run.original_id or 0]["content"].startswith("**fuse these** 🖼️×2\n")


async def test_imagine_with_a_video_is_refused_without_a_call(world: DiscordWorld, dc: FakeDiscord) -> None:
    clip = dc.upload("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    run = await dc.slash(
        ALICE, "imagine", {"prompt": "animate"}, guild=world.guild, attachments={"image1": clip}
    )
    await dc.wait_for(lambda: "not videos" in dc.messages.get(run.original_id or 0, {}).get("content", ""))
    assert world.provider_calls() == []


async def test_commands_are_localized_and_answer_in_the_users_language(
    world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    imagine = next(command for command in dc.commands if command["name"] == "imagine")
    assert "画" in imagine["description_localizations"]["zh-CN"]
    assert "prompt" in imagine["description"]
    names = {command["name"] for command in dc.commands}
    assert names >= {"imagine", "settings", "usage", "new", "history", "help", "Picture history"}

    fake.fail("slow", delay=0.6)
    run = await dc.slash(LI, "imagine", {"prompt": "一条蓝色的船"}, guild=world.guild)
    await dc.wait_for(lambda: "正在绘制" in dc.messages.get(run.original_id or 0, {}).get("content", ""))
    await dc.wait_picture(world.channel)
    help_run = await dc.slash(LI, "help", guild=world.guild)
    await dc.wait_for(lambda: "/imagine" in dc.messages.get(help_run.original_id or 0, {}).get("content", ""))
    assert "我会作画" in dc.messages[help_run.original_id or 0]["content"]


async def test_a_moderation_block_explains_on_the_card_and_offers_retry(
    world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.fail("moderation")
    run = await dc.slash(
        ALICE, "imagine", {"prompt": "something the safety system dislikes"}, guild=world.guild
    )
    answer = await dc.wait_text(world.channel, "safety system blocked")
    assert dc.buttons(int(answer["id"])) == ["🔄 Retry"]
    assert int(answer["id"]) == run.original_id  # the card became the answer
    await dc.press(int(answer["id"]), "🔄", ALICE, guild=world.guild)
    await dc.wait_picture(world.channel)
    assert len(world.provider_calls()) == 2


async def test_settings_menus_change_what_the_next_picture_uses(world: DiscordWorld, dc: FakeDiscord) -> None:
    run = await dc.slash(ALICE, "settings", guild=world.guild)
    menu_id = await dc.wait_for(lambda: run.original_id, what="the settings card")
    await dc.wait_for(lambda: dc.messages[menu_id]["components"], what="the select menus")
    menu = dc.messages[menu_id]
    assert run.ephemeral and "Settings here" in menu["content"]
    selects = [row["components"][0] for row in menu["components"]]
    assert [select["custom_id"] for select in selects] == ["s:backend", "s:size", "s:quality", "s:format"]
    size = selects[1]
    assert [o["value"] for o in size["options"] if o.get("default")] == ["auto"]
    # Of a proxy only the configured backend is known to work: the only one offered.
    assert [o["value"] for o in selects[0]["options"]] == ["responses"]

    await dc.pick(menu_id, "s:size", "1536x1024", ALICE, guild=world.guild)
    await dc.wait_for(lambda: "size 1536x1024" in dc.messages[menu_id]["content"], what="the menu updated")
    picked = dc.messages[menu_id]["components"][1]["components"][0]
    assert [o["value"] for o in picked["options"] if o.get("default")] == ["1536x1024"]

    await dc.say(ALICE, "a wide red field", guild=world.guild, mention_bot=True)
    await dc.wait_picture(world.channel)
    assert world.provider_calls()[0].json["tools"][0]["size"] == "1536x1024"


async def test_settings_are_for_members_who_can_manage_the_channel(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    run = await dc.slash(BOB, "settings", guild=world.guild)
    menu_id = await dc.wait_for(lambda: run.original_id, what="the settings card")
    await dc.wait_for(lambda: dc.messages[menu_id]["components"], what="the select menus")
    refused = await dc.pick(menu_id, "s:quality", "high", BOB, guild=world.guild)
    await dc.wait_for(lambda: refused.callbacks, what="the answer to the pick")
    answer = refused.callbacks[0]
    assert answer["type"] == 4 and answer["data"]["flags"] & 64  # said to Bob alone
    assert "Only members who can manage this channel" in answer["data"]["content"]
    assert "quality auto" in dc.messages[menu_id]["content"]

    world.guild.managers.add(BOB.id)
    allowed = await dc.pick(menu_id, "s:quality", "high", BOB, guild=world.guild)
    await dc.wait_for(lambda: allowed.callbacks, what="the answer to the pick")
    assert allowed.callbacks[0]["type"] == 7
    assert "quality high" in dc.messages[menu_id]["content"]


async def test_usage_new_and_history(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, "a blue cup", guild=world.guild, mention_bot=True)
    first = await dc.wait_picture(world.channel)
    await dc.say(ALICE, "make it red", guild=world.guild, reply_to=int(first["id"]))
    second = await dc.wait_picture(world.channel, after=int(first["id"]))

    usage = await dc.slash(ALICE, "usage", guild=world.guild)
    await dc.wait_for(
        lambda: "today 2 images" in dc.messages.get(usage.original_id or 0, {}).get("content", "")
    )
    assert usage.ephemeral

    history = await dc.slash(ALICE, "history", guild=world.guild)
    await dc.wait_for(lambda: "2 steps" in dc.messages.get(history.original_id or 0, {}).get("content", ""))
    text = dc.messages[history.original_id or 0]["content"]
    assert "1. a blue cup" in text and "2. make it red" in text

    # A message's Apps menu: the history of that very picture.
    menu = await dc.slash_message(ALICE, "Picture history", int(first["id"]), guild=world.guild)
    await dc.wait_for(lambda: "(1 step)" in dc.messages.get(menu.original_id or 0, {}).get("content", ""))
    assert second

    new = await dc.slash(ALICE, "new", guild=world.guild)
    await dc.wait_for(
        lambda: "New conversation" in dc.messages.get(new.original_id or 0, {}).get("content", "")
    )
    history = await dc.slash(ALICE, "history", guild=world.guild)
    await dc.wait_for(
        lambda: "no picture here yet" in dc.messages.get(history.original_id or 0, {}).get("content", "")
    )
