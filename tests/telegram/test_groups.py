"""Groups: the bot answers commands, mentions and replies to its own messages, nothing else."""

from __future__ import annotations

from dataclasses import replace

from adapters.telegram_adapter.pacing import FloodLimits
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import BOT_ID, BOT_USERNAME, FakeTelegram, User
from tests.helpers import colour_name, png
from tests.telegram.conftest import ALICE, BOB, FAST, GROUP, PRIVATE, TelegramWorld


async def test_a_group_message_without_a_mention_is_ignored(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(GROUP, ALICE, "what a nice red sunset")
    tg.send(GROUP, BOB, "@someone_else draw a cat")
    tg.send(GROUP, BOB, "/draw@other_bot a dog")
    tg.send(GROUP, ALICE, sticker=True)
    await tg.settle(0.5)
    assert tg.bot_messages(GROUP) == []
    assert world.provider_calls() == []


async def test_a_mention_draws(world: TelegramWorld, tg: FakeTelegram) -> None:
    prompt = tg.send(GROUP, ALICE, f"@{BOT_USERNAME} a purple castle")
    photo = await tg.wait_photo(GROUP)
    assert photo["reply_to_message"]["message_id"] == prompt["message_id"]
    # The mention is not part of the prompt.
    assert BOT_USERNAME not in world.provider_calls()[0].json["input"][-1]["content"][0]["text"]
    assert colour_name(tg.photo_bytes(photo)) == "purple"


async def test_a_mention_by_id_draws(world: TelegramWorld, tg: FakeTelegram) -> None:
    entity = {
        "type": "text_mention",
        "offset": 0,
        "length": 6,
        "user": {"id": BOT_ID, "is_bot": True, "first_name": "Redraw"},
    }
    tg.send(GROUP, ALICE, "Redraw a green frog", entities=[entity])
    await tg.wait_photo(GROUP)


async def test_commands_with_the_bots_name(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(GROUP, ALICE, f"/draw@{BOT_USERNAME} a blue moon")
    photo = await tg.wait_photo(GROUP)
    assert colour_name(tg.photo_bytes(photo)) == "blue"
    assert "a blue moon" in photo["caption"]


async def test_a_reply_to_the_bots_image_edits_it_without_a_mention(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    tg.send(GROUP, ALICE, "/draw a white house")
    first = await tg.wait_photo(GROUP)
    # Someone else in the group carries on from Alice's picture.
    tg.send(GROUP, BOB, "paint it red", reply_to=first)
    second = await tg.wait_photo(GROUP, after=first["message_id"])
    assert colour_name(tg.photo_bytes(second)) == "red"
    assert world.provider_calls()[1].json["previous_response_id"]
    # A plain follow-up without a reply is not for the bot.
    tg.send(GROUP, BOB, "and now green")
    await tg.settle(0.5)
    assert len(world.provider_calls()) == 2


async def test_a_reply_to_someones_photo_with_a_mention_restyles_it(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    holiday = png("blue", (320, 240))
    theirs = tg.send(GROUP, BOB, "look at this", photo=holiday)
    tg.send(GROUP, ALICE, f"@{BOT_USERNAME} make it yellow", reply_to=theirs)
    photo = await tg.wait_photo(GROUP)
    assert colour_name(tg.photo_bytes(photo)) == "yellow"
    assert world.provider_calls()[0].input_images() == [holiday]


async def test_a_non_image_file_is_answered_only_when_addressed(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    tg.send(GROUP, ALICE, "minutes", document=(b"hello", "minutes.txt", "text/plain"))
    await tg.settle(0.4)
    assert tg.bot_messages(GROUP) == []
    tg.send(GROUP, ALICE, f"@{BOT_USERNAME} restyle", document=(b"hello", "minutes.txt", "text/plain"))
    await tg.wait_text(GROUP, "I can only work with pictures")


async def test_progress_in_a_group_is_edited_sparingly(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    """Telegram allows ~20 messages a minute per group, edits included: a group's status
    messages get one call every group_progress_every_s (a burst of two), a private chat's many."""
    group_pace = replace(FAST, group_progress_every_s=FloodLimits().group_progress_every_s)
    await idle_world.start(progress_every_s=0.1, status_after_s=0, adapter={"flood": group_pace})
    fake.fail("slow", delay=3.5, times=2)
    tg.send(GROUP, ALICE, "/draw a slow red snail")
    tg.send(PRIVATE, ALICE, "a slow red snail")
    for chat in (GROUP, PRIVATE):
        await tg.wait_message(chat, lambda m: "💲" in m.get("caption", ""), what="the picture")
    status_calls = ("sendMessage", "editMessageText")
    group = [call for method in status_calls for call in tg.sent(method, GROUP)]
    private = [call for method in status_calls for call in tg.sent(method, PRIVATE)]
    # The clock shows seconds: a private chat sees each one (0:00 to 0:03), a group two states.
    assert 1 <= len(group) <= 2 and len(private) >= 4
    assert tg.sent("sendChatAction") == []


async def test_a_groups_pictures_in_progress_share_one_status_message(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    fake.latency = 1.5
    members = [ALICE, BOB, User(504, "Cy", "en", "cy")]
    prompts = [
        tg.send(GROUP, member, f"/draw a {colour} kite")
        for member, colour in zip(members, ["red", "blue", "green"], strict=True)
    ]
    board = await tg.wait_message(GROUP, lambda m: m.get("text", "").count("🎨") == 3, what="the board")
    assert board["text"].splitlines()[0].startswith("1. a red kite · 🎨 Drawing")
    assert tg.buttons(board) == ["✖ 1", "✖ 2", "✖ 3"] and "reply_to_message" not in board
    # Bob cancels his own line.
    tg.press(board, "✖ 2", BOB)
    cancelled = await tg.wait_text(GROUP, "Cancelled")
    assert cancelled["reply_to_message"]["message_id"] == prompts[1]["message_id"]
    await tg.wait_for(lambda: len(tg.bot_photos(GROUP)) == 2 or None, what="two pictures")
    await tg.settle()
    # Each picture is a message of its own replying to its prompt; the board is gone.
    replies = sorted(m["reply_to_message"]["message_id"] for m in tg.bot_photos(GROUP))
    assert replies == [prompts[0]["message_id"], prompts[2]["message_id"]]
    assert board["message_id"] not in [m["message_id"] for m in tg.bot_messages(GROUP)]
    assert len(tg.sent("sendMessage", GROUP)) == 2  # the board and Bob's answer
