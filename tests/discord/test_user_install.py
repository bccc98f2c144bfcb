"""Redraw as a user-installed app, over the real discord.py: commands in a server the bot
is not in and in group DMs, answered through the interaction alone; "Redraw this" in a
message's Apps menu, on a user's image and on one of the bot's pictures."""

from __future__ import annotations

import hashlib

from tests.discord.conftest import ALICE, BOB, DiscordWorld
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, png

USER_INSTALL = 1
GUILD_INSTALL = 0


async def test_commands_declare_where_they_may_be_installed_and_used(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    commands = {command["name"]: command for command in dc.commands}
    for name in ("imagine", "history", "usage", "help", "Picture history", "Redraw this"):
        assert sorted(commands[name]["integration_types"]) == [GUILD_INSTALL, USER_INSTALL], name
        assert sorted(commands[name]["contexts"]) == [0, 1, 2], name
    # Settings change a server channel's defaults: only where the bot is a member.
    assert USER_INSTALL not in (commands["settings"].get("integration_types") or [GUILD_INSTALL])
    assert commands["Redraw this"]["type"] == 3


async def test_user_installed_imagine_in_a_server_the_bot_is_not_in(
    world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    elsewhere = dc.add_guild("Elsewhere", owner=BOB, bot_member=False)
    fake.fail("slow", delay=0.4)
    run = await dc.slash(ALICE, "imagine", {"prompt": "a blue boat"}, guild=elsewhere)
    picture = await dc.wait_picture(elsewhere.channel_id)
    assert colour_name(dc.file(picture["attachments"][0])) == "blue"
    # Through the interaction: its card became the picture (one edit of the interaction's
    # original response); never the channel itself.
    assert picture["interaction_metadata"]["id"] == str(run.id)
    assert int(picture["id"]) == run.original_id
    application = dc.commands[0]["application_id"]
    assert dc.calls_to("PATCH", f"/webhooks/{application}/{run.token}/messages/@original")
    assert dc.calls_to("POST", f"/channels/{elsewhere.channel_id}/messages") == []
    await dc.settle()
    assert dc.messages[run.original_id or 0]["content"].startswith("**a blue boat**\n")
    assert dc.buttons(int(picture["id"]))[:2] == ["🔁 Regenerate", "🎲 Variations"]

    # Its buttons work there too, answered through the press.
    press = await dc.press(int(picture["id"]), "🔁", ALICE, guild=elsewhere)
    again = await dc.wait_picture(elsewhere.channel_id, after=int(picture["id"]))
    assert again["interaction_metadata"]["id"] == str(press.id)
    assert len(world.provider_calls()) == 2
    assert dc.calls_to("POST", f"/channels/{elsewhere.channel_id}/messages") == []


async def test_user_installed_help_in_a_group_dm(world: DiscordWorld, dc: FakeDiscord) -> None:
    group = dc.add_group_dm()
    run = await dc.slash(ALICE, "help", group_dm=group)
    await dc.wait_for(lambda: "/imagine" in dc.messages.get(run.original_id or 0, {}).get("content", ""))
    assert run.ephemeral


async def test_redraw_this_on_a_users_image_restyles_it(world: DiscordWorld, dc: FakeDiscord) -> None:
    photo = png("yellow", (320, 200))
    posted = await dc.say(BOB, "my cat", guild=world.guild, attachments=[dc.upload("cat.png", photo)])
    opened = await dc.slash_message(ALICE, "Redraw this", posted, guild=world.guild)
    await dc.wait_for(lambda: opened.modal, what="the modal")
    assert opened.modal is not None and opened.modal["title"] == "Redraw this"
    submitted = await dc.submit_modal(opened, ["as a watercolour"])
    picture = await dc.wait_picture(world.channel)
    assert colour_name(dc.file(picture["attachments"][0])) == "yellow"
    assert world.provider_calls()[0].input_image_hashes() == [hashlib.sha256(photo).hexdigest()]
    await dc.settle()
    assert dc.messages[submitted.original_id or 0]["content"].startswith("**as a watercolour**")


async def test_redraw_this_on_the_bots_picture_continues_it(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, "a blue boat", guild=world.guild, mention_bot=True)
    first = await dc.wait_picture(world.channel)
    opened = await dc.slash_message(BOB, "Redraw this", int(first["id"]), guild=world.guild)
    await dc.wait_for(lambda: opened.modal, what="the modal")
    await dc.submit_modal(opened, ["make it red"])
    second = await dc.wait_picture(world.channel, after=int(first["id"]))
    assert colour_name(dc.file(second["attachments"][0])) == "red"
    calls = world.provider_calls()
    # A chained edit: the response that drew the first picture is continued, no upload.
    assert calls[1].json["previous_response_id"]
    assert calls[1].input_image_hashes() == []


async def test_redraw_this_in_a_server_the_bot_is_not_in(world: DiscordWorld, dc: FakeDiscord) -> None:
    elsewhere = dc.add_guild("Elsewhere", owner=BOB, bot_member=False)
    photo = png("green", (256, 256))
    posted = await dc.say(BOB, "", guild=elsewhere, attachments=[dc.upload("tree.png", photo)])
    opened = await dc.slash_message(ALICE, "Redraw this", posted, guild=elsewhere)
    await dc.wait_for(lambda: opened.modal, what="the modal")
    await dc.submit_modal(opened, ["at night"])
    picture = await dc.wait_picture(elsewhere.channel_id)
    assert colour_name(dc.file(picture["attachments"][0])) == "green"
    assert dc.calls_to("POST", f"/channels/{elsewhere.channel_id}/messages") == []


async def test_redraw_this_on_a_message_without_a_picture_says_so(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    posted = await dc.say(BOB, "just words", guild=world.guild)
    opened = await dc.slash_message(ALICE, "Redraw this", posted, guild=world.guild)
    await dc.wait_for(lambda: opened.callbacks, what="the answer")
    answer = opened.callbacks[0]
    assert answer["type"] == 4 and answer["data"]["flags"] & 64
    assert "only work with pictures" in answer["data"]["content"]
    assert world.provider_calls() == []
