"""Inline mode over the real python-telegram-bot: ``@bot a prompt`` in any chat, the chosen
result's placeholder turned into the picture through a file id, its buttons, and what a
forged press gets."""

from __future__ import annotations

import io

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import colour_name
from tests.telegram.conftest import ALICE, BOB, PRIVATE, TelegramWorld


async def _drawn(tg: FakeTelegram, prompt: str) -> str:
    query = tg.inline_query(ALICE, prompt)
    answer = await tg.wait_for(lambda: tg.inline_answers.get(query), what="the inline answer")
    assert [r["title"] for r in answer["results"]] == ["🎨 Draw this"]
    assert answer["cache_time"] == 0 and answer["is_personal"]
    imid = tg.choose_inline(query, answer["results"][0]["id"])
    await tg.wait_for(lambda: "photo" in tg.inline_messages[imid], what="the inline picture")
    return imid


async def test_an_inline_query_chosen_becomes_the_picture(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.chats[PRIVATE.id] = PRIVATE  # Alice has started the bot: her private chat makes the file id
    imid = await _drawn(tg, "a blue kite")
    message = tg.inline_messages[imid]
    assert colour_name(tg.file_bytes(message["photo"][-1]["file_id"])) == "blue"
    assert "a blue kite" in message["caption"]
    assert tg.buttons_of(message)[:2] == ["🔁 Regenerate", "🎲 Variations"]
    # By file id: the upload went to Alice's private chat once, and was deleted there.
    media = [call for call in tg.sent("editMessageMedia")]
    assert media and not media[0].files and media[0].params["inline_message_id"] == imid
    assert tg.sent("sendPhoto", PRIVATE) and tg.bot_messages(PRIVATE) == []


async def test_someone_else_regenerates_an_inline_picture(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    imid = await _drawn(tg, "a red balloon")
    first = tg.inline_messages[imid]["photo"][-1]["file_id"]
    query = tg.press_inline(imid, "🔁", BOB)
    await tg.wait_for(lambda: tg.inline_messages[imid]["photo"][-1]["file_id"] != first, what="a new picture")
    assert query in tg.answered
    assert colour_name(tg.file_bytes(tg.inline_messages[imid]["photo"][-1]["file_id"])) == "red"
    assert len(world.provider_calls()) == 2


async def test_a_double_tap_on_an_inline_picture_draws_once_and_answers_both(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    imid = await _drawn(tg, "a red balloon")
    before = tg.inline_messages[imid]["photo"][-1]["file_id"]
    fake.fail("slow", delay=1.0)
    first = tg.press_inline(imid, "🔁", BOB)
    second = tg.press_inline(imid, "🔁", BOB)
    await tg.wait_for(
        lambda: tg.inline_messages[imid]["photo"][-1]["file_id"] != before, what="a new picture"
    )
    await tg.settle()
    # Each tap has its answer (the second one's says it is already drawing), and one drawing.
    assert first in tg.answered and second in tg.answered
    assert len(world.provider_calls()) == 2


async def test_a_forged_press_on_an_inline_message_changes_nothing(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    tg.send(PRIVATE, ALICE, "a green leaf")
    private_photo = await tg.wait_photo(PRIVATE)
    private_turn = tg.button_data(private_photo, "🔁")
    imid = await _drawn(tg, "a blue kite")
    before = dict(tg.inline_messages[imid])
    # Bob's client sends Regenerate for the turn of Alice's private picture, on the inline message.
    query = tg.press_inline(imid, "", BOB, data=private_turn)
    await tg.wait_for(lambda: tg.answered.get(query), what="the answer to the press")
    assert tg.answered[query].get("show_alert")
    await tg.settle()
    assert tg.inline_messages[imid] == before
    assert len(world.provider_calls()) == 2


async def test_without_a_chat_for_the_file_id_the_inline_message_says_so(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    query = tg.inline_query(BOB, "a yellow sun")
    answer = await tg.wait_for(lambda: tg.inline_answers.get(query), what="the inline answer")
    imid = tg.choose_inline(query, answer["results"][0]["id"])
    await tg.wait_for(lambda: "Retry" in " ".join(tg.buttons_of(tg.inline_messages[imid])), what="a failure")
    assert "photo" not in tg.inline_messages[imid]


async def test_an_empty_inline_query_offers_nothing(world: TelegramWorld, tg: FakeTelegram) -> None:
    query = tg.inline_query(ALICE, "  ")
    answer = await tg.wait_for(lambda: tg.inline_answers.get(query), what="the inline answer")
    assert answer["results"] == []


async def test_a_slow_inline_picture_shows_its_status_on_the_placeholder(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    fake.fail("slow", delay=2.5)
    query = tg.inline_query(ALICE, "a blue kite")
    answer = await tg.wait_for(lambda: tg.inline_answers.get(query), what="the inline answer")
    imid = tg.choose_inline(query, answer["results"][0]["id"])
    # The placeholder is the status: edited in place, its Cancel button now naming the turn.
    await tg.wait_for(
        lambda: tg.sent("editMessageText") and "✖ Cancel" in tg.buttons_of(tg.inline_messages[imid]),
        what="the status on the placeholder",
    )
    status = tg.inline_messages[imid]
    assert "Drawing" in status["text"]
    assert all(call.params.get("inline_message_id") == imid for call in tg.sent("editMessageText"))
    await tg.wait_for(lambda: "photo" in tg.inline_messages[imid], what="the inline picture")
    message = tg.inline_messages[imid]
    assert colour_name(tg.file_bytes(message["photo"][-1]["file_id"])) == "blue"
    assert tg.buttons_of(message)[:2] == ["🔁 Regenerate", "🎲 Variations"]
    # Nothing was posted for the status; only the file-id copy in Alice's chat was removed.
    assert tg.sent("sendMessage") == [] and tg.sent("deleteMessage", PRIVATE) == tg.sent("deleteMessage")


async def test_cancel_on_an_inline_message_stops_the_drawing(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    fake.fail("slow", delay=30)
    query = tg.inline_query(ALICE, "a slow blue snail")
    answer = await tg.wait_for(lambda: tg.inline_answers.get(query), what="the inline answer")
    imid = tg.choose_inline(query, answer["results"][0]["id"])
    await tg.wait_for(lambda: tg.sent("editMessageText"), what="the status on the placeholder")
    await tg.wait_for(world.provider_calls, what="the provider call")
    tg.press_inline(imid, "✖", ALICE)
    await tg.wait_for(
        lambda: "Cancelled" in tg.inline_messages[imid].get("text", ""), what="the cancellation"
    )
    await tg.settle()
    message = tg.inline_messages[imid]
    assert "photo" not in message and tg.buttons_of(message) == []


async def test_inline_and_guest_pictures_take_the_users_private_settings(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    from PIL import Image  # noqa: PLC0415

    from tests.fakes.telegram_server import BOT_USERNAME, Chat  # noqa: PLC0415

    tg.chats[PRIVATE.id] = PRIVATE
    tg.send(PRIVATE, ALICE, "/settings size 1536x1024")
    await tg.wait_text(PRIVATE, "Saved")
    imid = await _drawn(tg, "a blue kite")
    photo = tg.file_bytes(tg.inline_messages[imid]["photo"][-1]["file_id"])
    assert Image.open(io.BytesIO(photo)).size == (1536, 1024)
    # A guest message in a chat the bot isn't in: the same settings.
    guest = tg.guest_message(
        Chat(-1005550002, "supergroup", "Elsewhere"), ALICE, f"@{BOT_USERNAME} a red fox"
    )
    query = guest["guest_query_id"]
    answered = await tg.wait_for(lambda: tg.guest_answers.get(query), what="the guest answer")
    await tg.wait_for(lambda: "photo" in tg.inline_messages[answered], what="the guest picture")
    photo = tg.file_bytes(tg.inline_messages[answered]["photo"][-1]["file_id"])
    assert Image.open(io.BytesIO(photo)).size == (1536, 1024)
    # Bob never changed his: the defaults (square).
    tg.chats[BOB.id] = Chat(BOB.id, "private", "Bob")
    query = tg.inline_query(BOB, "a green leaf")
    answer = await tg.wait_for(lambda: tg.inline_answers.get(query), what="Bob's inline answer")
    bobs = tg.choose_inline(query, answer["results"][0]["id"])
    await tg.wait_for(lambda: "photo" in tg.inline_messages[bobs], what="Bob's picture")
    photo = tg.file_bytes(tg.inline_messages[bobs]["photo"][-1]["file_id"])
    assert Image.open(io.BytesIO(photo)).size == (1024, 1024)
