"""Private chats over the real PTB Application: drawing, reply chains, photos, files, errors."""

from __future__ import annotations

import hashlib

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import colour_name, png
from tests.telegram.conftest import ALICE, LI, PRIVATE, TelegramWorld


async def test_private_generate(world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI) -> None:
    fake.fail("slow", delay=0.6)
    prompt = tg.send(PRIVATE, ALICE, "a red fox in the snow")
    progress = await tg.wait_text(PRIVATE, "Drawing")
    assert progress["reply_to_message"]["message_id"] == prompt["message_id"]
    assert tg.buttons(progress) == ["✖ Cancel"]

    photo = await tg.wait_photo(PRIVATE)
    assert photo["reply_to_message"]["message_id"] == prompt["message_id"]
    assert "a red fox in the snow" in photo["caption"] and "💲" in photo["caption"]
    assert colour_name(tg.photo_bytes(photo)) == "red"
    assert tg.buttons(photo) == [
        "🔁 Regenerate",
        "🎲 Variations",
        "📎 Original",
        "↩️ Undo",
        "✏️ Edit a region",
        "🌳 Versions",
    ]
    await tg.settle()
    # The status message became the picture (one call: editMessageMedia), so nothing is left
    # to remove; no chat action either, the status showed the work.
    assert photo["message_id"] == progress["message_id"]
    assert [m["message_id"] for m in tg.bot_messages(PRIVATE)] == [photo["message_id"]]
    assert tg.sent("deleteMessage") == [] and tg.sent("sendChatAction") == []
    assert len(world.provider_calls()) == 1


async def test_command_menu_in_english_and_chinese(world: TelegramWorld, tg: FakeTelegram) -> None:
    english = {command["command"]: command["description"] for command in tg.commands[""]}
    chinese = {command["command"]: command["description"] for command in tg.commands["zh"]}
    assert set(english) == set(chinese) >= {"draw", "new", "settings", "usage", "history", "cancel", "help"}
    assert "雪地" in chinese["draw"] and "snow" in english["draw"]


async def test_a_three_deep_reply_chain(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "a blue boat")
    first = await tg.wait_photo(PRIVATE)
    tg.send(PRIVATE, ALICE, "make it red", reply_to=first)
    second = await tg.wait_photo(PRIVATE, after=first["message_id"])
    tg.send(PRIVATE, ALICE, "now make it green", reply_to=second)
    third = await tg.wait_photo(PRIVATE, after=second["message_id"])
    assert [colour_name(tg.photo_bytes(m)) for m in (first, second, third)] == ["blue", "red", "green"]
    calls = world.provider_calls()
    # Each edit continues the response that drew the picture replied to.
    assert calls[1].json["previous_response_id"] and calls[2].json["previous_response_id"]
    assert calls[1].json["previous_response_id"] != calls[2].json["previous_response_id"]

    # Replying to the first picture again branches from it.
    tg.send(PRIVATE, ALICE, "make it yellow", reply_to=first)
    branch = await tg.wait_photo(PRIVATE, after=third["message_id"])
    assert colour_name(tg.photo_bytes(branch)) == "yellow"
    assert world.provider_calls()[3].json["previous_response_id"] == calls[1].json["previous_response_id"]


async def test_a_photo_with_a_caption_is_restyled(world: TelegramWorld, tg: FakeTelegram) -> None:
    original = png("blue", (300, 200))
    tg.send(PRIVATE, ALICE, "make it red", photo=original)
    photo = await tg.wait_photo(PRIVATE)
    assert colour_name(tg.photo_bytes(photo)) == "red"
    # The largest photo size was fetched, not the thumbnail.
    (sent,) = world.provider_calls()[0].input_images()
    assert hashlib.sha256(sent).digest() == hashlib.sha256(original).digest()


async def test_an_album_is_fused(world: TelegramWorld, tg: FakeTelegram) -> None:
    photos = [png("blue", (128, 128)), png("green", (128, 128)), png("yellow", (128, 128))]
    # The caption sits on the second item, as Telegram allows.
    album = tg.send_album(PRIVATE, ALICE, photos, "combine these into one red poster", caption_on=1)
    result = await tg.wait_photo(PRIVATE, after=album[-1]["message_id"])
    (call,) = world.provider_calls()
    assert call.input_images() == photos
    assert result["reply_to_message"]["message_id"] == album[0]["message_id"]
    assert colour_name(tg.photo_bytes(result)) == "red"


async def test_an_image_sent_as_a_file_is_used_uncompressed(world: TelegramWorld, tg: FakeTelegram) -> None:
    original = png("green", (640, 480))
    tg.send(PRIVATE, ALICE, "make it purple", document=(original, "scan.png", "image/png"))
    await tg.wait_photo(PRIVATE)
    assert world.provider_calls()[0].input_images() == [original]


async def test_a_reply_to_my_own_photo_uses_it(world: TelegramWorld, tg: FakeTelegram) -> None:
    original = png("blue", (200, 200))
    mine = tg.send(PRIVATE, ALICE, photo=original)
    asked = await tg.wait_text(PRIVATE, "What should I do with it")
    assert world.provider_calls() == []
    tg.send(PRIVATE, ALICE, "make it orange", reply_to=mine)
    result = await tg.wait_photo(PRIVATE, after=asked["message_id"])
    assert colour_name(tg.photo_bytes(result)) == "orange"
    assert world.provider_calls()[0].input_images() == [original]


async def test_a_non_image_file_gets_a_clear_answer(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "draw this", document=(b"%PDF-1.7 ...", "report.pdf", "application/pdf"))
    answer = await tg.wait_text(PRIVATE, "I can only work with pictures")
    assert "this kind of file" in answer["text"]
    tg.send(PRIVATE, ALICE, sticker=True)
    await tg.wait_text(PRIVATE, "not stickers")
    tg.send(PRIVATE, ALICE, voice=True)
    await tg.wait_text(PRIVATE, "not voice messages")
    assert world.provider_calls() == []


async def test_a_prompt_over_the_limit_is_refused_without_a_call(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    tg.send(PRIVATE, ALICE, "a cat " + "x" * 40_000)
    answer = await tg.wait_text(PRIVATE, "the limit is 32000")
    assert "40006 characters" in answer["text"]
    assert tg.buttons(answer) == []
    assert world.provider_calls() == []


async def test_a_moderation_block_explains_and_offers_retry(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    fake.fail("moderation")
    tg.send(PRIVATE, ALICE, "something the safety system dislikes")
    answer = await tg.wait_text(PRIVATE, "safety system blocked")
    assert tg.buttons(answer) == ["🔄 Retry"]
    tg.press(answer, "🔄", ALICE)
    await tg.wait_photo(PRIVATE)
    assert len(world.provider_calls()) == 2


async def test_a_rate_limit_is_retried_then_succeeds(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    fake.fail("rate_limit", retry_after=0.1)
    tg.send(PRIVATE, ALICE, "a green apple")
    photo = await tg.wait_photo(PRIVATE)
    assert colour_name(tg.photo_bytes(photo)) == "green"
    assert [call.status for call in world.provider_calls()] == [429, 200]


async def test_replies_in_the_users_language(world: TelegramWorld, tg: FakeTelegram) -> None:
    chat = PRIVATE.__class__(LI.id, "private", "Li")
    tg.send(chat, LI, "/help")
    answer = await tg.wait_text(chat, "我会作画")
    assert answer["reply_to_message"]["message_id"]
    tg.send(chat, LI, "一只红色的猫 red")
    photo = await tg.wait_photo(chat)
    assert tg.buttons(photo) == ["🔁 重画", "🎲 变体", "📎 原图", "↩️ 撤销", "✏️ 编辑区域", "🌳 版本"]


async def test_commands(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "/start")
    await tg.wait_text(PRIVATE, "Reply to one of my pictures to change it")
    tg.send(PRIVATE, ALICE, "/draw a blue whale")
    whale = await tg.wait_photo(PRIVATE)
    assert "a blue whale" in whale["caption"]
    tg.send(PRIVATE, ALICE, "/history", reply_to=whale)
    await tg.wait_text(PRIVATE, "1. a blue whale")
    tg.send(PRIVATE, ALICE, "/usage")
    await tg.wait_text(PRIVATE, "today 1 images")
    tg.send(PRIVATE, ALICE, "/new")
    new = await tg.wait_text(PRIVATE, "New conversation")
    tg.send(PRIVATE, ALICE, "a red kite")
    await tg.wait_photo(PRIVATE, after=new["message_id"])
    # After /new the next message starts afresh: no previous response to continue.
    assert "previous_response_id" not in world.provider_calls()[-1].json
    tg.send(PRIVATE, ALICE, "/frobnicate")
    await tg.wait_text(PRIVATE, "I don't know the command /frobnicate")
    tg.send(PRIVATE, ALICE, "/cancel")
    await tg.wait_text(PRIVATE, "Nothing of yours is being drawn")


async def test_edited_messages_are_ignored(world: TelegramWorld, tg: FakeTelegram) -> None:
    prompt = tg.send(PRIVATE, ALICE, "a blue bird")
    await tg.wait_photo(PRIVATE)
    tg.edit(prompt, "a red bird")
    tg.send(PRIVATE, ALICE, "/usage")
    await tg.wait_text(PRIVATE, "today 1 images")
    assert len(world.provider_calls()) == 1


async def test_a_file_over_the_download_limit_is_explained(world: TelegramWorld, tg: FakeTelegram) -> None:
    huge = png("blue", (64, 64)) + b"\0" * (21 * 1024 * 1024)
    tg.send(PRIVATE, ALICE, "make it red", document=(huge, "huge.png", "image/png"))
    answer = await tg.wait_text(PRIVATE, "at most 20 MB")
    assert "21.0 MB" in answer["text"]
    assert world.provider_calls() == []


async def test_an_unexpected_failure_is_apologized_for(world: TelegramWorld, tg: FakeTelegram) -> None:
    # The database goes away under the bot.
    await world.runtimes[0].store.close()
    tg.send(PRIVATE, ALICE, "a blue cat")
    await tg.wait_text(PRIVATE, "Something went wrong on our side")
