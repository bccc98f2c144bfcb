"""Guest mode over the real python-telegram-bot: a mention in a chat the bot is not in,
answered at once with a placeholder (answerGuestQuery) that becomes the picture through a
file id; a guest reply to one of its pictures continuing it; Cancel, Regenerate and double
taps; a redelivered guest message; an error in the caller's language; what the fake
refuses as Telegram does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, InlineQueryResultArticle, InputMediaPhoto, InputTextMessageContent
from telegram.error import BadRequest

from adapters.telegram_adapter.guest import parse_data
from bot.messages import render
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import BOT_USERNAME, TOKEN, Chat, FakeTelegram
from tests.helpers import colour_name, png
from tests.telegram.conftest import ALICE, BOB, LI, PRIVATE, TelegramWorld
from tests.telegram.process import BotProcess, process_env

# A group the bot was never added to.
STRANGERS = Chat(-1005550001, "supergroup", "Strangers")
LI_CHAT = Chat(LI.id, "private", "Li")


async def _answer(tg: FakeTelegram, message: dict[str, Any]) -> str:
    query = message["guest_query_id"]
    return await tg.wait_for(lambda: tg.guest_answers.get(query), what="the answer to the guest query")


async def _drawn(tg: FakeTelegram, message: dict[str, Any]) -> str:
    imid = await _answer(tg, message)
    await tg.wait_for(lambda: "photo" in tg.inline_messages[imid], what="the guest picture")
    return imid


def _file(tg: FakeTelegram, imid: str) -> str:
    return str(tg.inline_messages[imid]["photo"][-1]["file_id"])


def _data(message: dict[str, Any], label_prefix: str) -> str | None:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    found = [b["callback_data"] for row in rows for b in row if b["text"].startswith(label_prefix)]
    return str(found[0]) if found else None


async def test_a_guest_message_is_answered_at_once_and_becomes_the_picture(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE  # Alice has started the bot: her private chat makes the file id
    fake.fail("slow", delay=1.0)
    message = tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} a blue kite")
    imid = await _answer(tg, message)
    # The placeholder: the prompt (without the mention), "Drawing…", a Cancel button.
    answer = tg.sent("answerGuestQuery")[0].params["result"]
    assert (
        answer["input_message_content"]["message_text"]
        == f"a blue kite\n{render('progress', 'en', elapsed='')}".strip()
    )
    assert tg.buttons_of(answer) == ["✖ Cancel"]
    await tg.wait_for(lambda: "photo" in tg.inline_messages[imid], what="the guest picture")
    picture = tg.inline_messages[imid]
    assert colour_name(tg.file_bytes(_file(tg, imid))) == "blue"
    assert "a blue kite" in picture["caption"]
    assert tg.buttons_of(picture)[:2] == ["🔁 Regenerate", "🎲 Variations"]
    # Every button names the guest chat and the turn, in Telegram's 64 bytes.
    for row in picture["reply_markup"]["inline_keyboard"]:
        for button in row:
            found = parse_data(button["callback_data"])
            assert found is not None and found[0] == str(STRANGERS.id)
    # By file id, in place: the upload went to Alice's private chat once and was deleted there;
    # nothing was posted in the chat the bot is not in.
    media = tg.sent("editMessageMedia")
    assert len(media) == 1 and not media[0].files and media[0].params["inline_message_id"] == imid
    assert tg.sent("sendPhoto", PRIVATE) and tg.bot_messages(PRIVATE) == []
    assert not [call for call in tg.calls if call.params.get("chat_id") == STRANGERS.id]
    assert len(world.provider_calls()) == 1


async def test_a_guest_reply_to_a_guest_picture_continues_it(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    tg.chats[BOB.id] = Chat(BOB.id, "private", "Bob")
    first = await _drawn(tg, tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} a red fox"))
    reply = tg.guest_message(
        STRANGERS, BOB, f"@{BOT_USERNAME} now make it green", reply_to=tg.inline_messages[first]
    )
    second = await _drawn(tg, reply)
    assert second != first
    calls = world.provider_calls()
    assert len(calls) == 2
    # A chained edit: the provider continues the first picture's response.
    assert calls[1].json["previous_response_id"]
    assert "now make it green" in calls[1].json["input"][-1]["content"][0]["text"]
    assert colour_name(tg.file_bytes(_file(tg, second))) == "green"
    # The first picture is untouched.
    assert colour_name(tg.file_bytes(_file(tg, first))) == "red"


async def test_a_guest_reply_to_someone_elses_picture_restyles_it(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    """A photo another bot or person posted in the chat is an input, not a parent."""
    tg.chats[PRIVATE.id] = PRIVATE
    posted = tg.send(STRANGERS, BOB, "look", photo=png("red"), deliver=False)
    del tg.chats[STRANGERS.id]  # posted by Bob; the bot is still not in the chat
    reply = tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} make it blue", reply_to=posted)
    await _drawn(tg, reply)
    last = world.provider_calls()[-1]
    assert "previous_response_id" not in last.json
    assert len(last.input_images()) == 1


async def test_regenerate_on_a_guest_picture_and_a_double_tap(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    imid = await _drawn(tg, tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} a red balloon"))
    before = _file(tg, imid)
    fake.fail("slow", delay=1.0)
    first = tg.press_inline(imid, "🔁", BOB)
    second = tg.press_inline(imid, "🔁", BOB)
    await tg.wait_for(lambda: _file(tg, imid) != before, what="the regenerated picture")
    await tg.settle()
    assert first in tg.answered and second in tg.answered
    # Two taps, one drawing.
    assert len(world.provider_calls()) == 2
    assert colour_name(tg.file_bytes(_file(tg, imid))) == "red"


async def test_cancel_on_a_guest_placeholder_stops_the_drawing(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    fake.fail("slow", delay=30)
    imid = await _answer(tg, tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} a slow blue snail"))
    # The placeholder becomes the status, its Cancel now naming the turn (in the guest chat).
    await tg.wait_for(lambda: parse_data(_data(tg.inline_messages[imid], "✖")), what="the turn's Cancel")
    await tg.wait_for(world.provider_calls, what="the provider call")
    taps = [tg.press_inline(imid, "✖", ALICE), tg.press_inline(imid, "✖", ALICE)]
    await tg.wait_for(
        lambda: "Cancelled" in tg.inline_messages[imid].get("text", ""), what="the cancellation"
    )
    await tg.settle()
    message = tg.inline_messages[imid]
    assert "photo" not in message and tg.buttons_of(message) == []
    assert all(tap in tg.answered for tap in taps)
    assert len(world.provider_calls()) == 1


async def test_someone_elses_cancel_is_said_to_them_alone(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    fake.fail("slow", delay=2.0)
    imid = await _answer(tg, tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} a blue kite"))
    await tg.wait_for(lambda: parse_data(_data(tg.inline_messages[imid], "✖")), what="the turn's Cancel")
    tap = tg.press_inline(imid, "✖", BOB)
    answer = await tg.wait_for(lambda: tg.answered.get(tap), what="the answer to Bob's tap")
    assert answer.get("text") == render("cancelling", "en")
    await tg.wait_for(lambda: "photo" in tg.inline_messages[imid], what="the picture, drawn anyway")


async def test_a_redelivered_guest_message_is_answered_and_drawn_once(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.chats[PRIVATE.id] = PRIVATE
    message = tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} a blue kite")
    imid = await _drawn(tg, message)
    # The same guest message again, in a new update (as after a webhook retry gone elsewhere).
    tg.deliver({"guest_message": message})
    await tg.settle()
    assert len(tg.sent("answerGuestQuery")) == 1
    assert len(world.provider_calls()) == 1
    assert len(tg.sent("editMessageMedia")) == 1 and "photo" in tg.inline_messages[imid]


async def test_an_error_is_shown_in_the_placeholder_in_the_callers_language(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    fake.fail("moderation")
    message = tg.guest_message(STRANGERS, LI, f"@{BOT_USERNAME} 一只红色的狐狸")
    imid = await _answer(tg, message)
    placeholder = tg.sent("answerGuestQuery")[0].params["result"]
    assert (
        render("progress", "zh_Hans", elapsed="").strip()
        in placeholder["input_message_content"]["message_text"]
    )
    assert tg.buttons_of(placeholder) == [render("button_cancel", "zh_Hans")]
    blocked = render("content_blocked", "zh_Hans")
    await tg.wait_for(lambda: blocked in tg.inline_messages[imid].get("text", ""), what="the refusal")
    assert blocked != render("content_blocked", "en")


async def test_without_a_chat_for_the_file_id_the_placeholder_says_so(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    """Bob never started the bot and no REDRAW_TELEGRAM_FILE_CHAT is set: Retry, nothing lost."""
    imid = await _answer(tg, tg.guest_message(STRANGERS, BOB, f"@{BOT_USERNAME} a yellow sun"))
    await tg.wait_for(lambda: "Retry" in " ".join(tg.buttons_of(tg.inline_messages[imid])), what="a failure")
    assert "photo" not in tg.inline_messages[imid]
    # Once Bob starts the bot, Retry sends the stored picture without drawing it again.
    tg.chats[BOB.id] = Chat(BOB.id, "private", "Bob")
    tg.press_inline(imid, "🔄", BOB)
    await tg.wait_for(lambda: "photo" in tg.inline_messages[imid], what="the picture after Retry")
    assert len(world.provider_calls()) == 1


async def test_an_expired_guest_query_draws_nothing(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.guest_query_ttl = 0.0
    message = tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} a blue kite")
    await tg.wait_for(lambda: tg.sent("answerGuestQuery"), what="the attempt to answer")
    await tg.settle()
    assert message["guest_query_id"] not in tg.guest_answers
    assert world.provider_calls() == []


async def test_the_fake_refuses_what_telegram_refuses(tg: FakeTelegram) -> None:
    """Over PTB itself: a query answered twice, an expired one, an upload into an inline message."""
    bot = Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.file_url)
    async with bot:
        result = InlineQueryResultArticle("r", "t", InputTextMessageContent("hello"))
        message = tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} hi")
        sent = await bot.answer_guest_query(message["guest_query_id"], result)
        assert tg.inline_messages[sent.inline_message_id]["text"] == "hello"
        with pytest.raises(BadRequest, match="too old"):
            await bot.answer_guest_query(message["guest_query_id"], result)
        tg.guest_query_ttl = 0.0
        late = tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} hi")
        with pytest.raises(BadRequest, match="too old"):
            await bot.answer_guest_query(late["guest_query_id"], result)
        await bot.edit_message_text("edited", inline_message_id=sent.inline_message_id)
        with pytest.raises(BadRequest, match="file upload"):
            await bot.edit_message_media(
                InputMediaPhoto(png("red")), inline_message_id=sent.inline_message_id
            )


async def test_a_crash_before_the_turn_is_stored_is_drawn_into_the_same_placeholder(
    tg: FakeTelegram, fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The answer is posted, then the process is killed fetching the guest message's photo:
    the next start draws into that placeholder (the query can't be answered twice)."""
    tg.chats[PRIVATE.id] = PRIVATE
    bot = BotProcess(tg, process_env(tg, fake, tmp_path, REDRAW_BACKEND="images"), tmp_path)
    try:
        await bot.start()
        held = tg.hold("download")
        message = tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} make it green", photo=png("blue"))
        imid = await _answer(tg, message)
        await held.wait_reached()
        await bot.kill()

        await bot.start()
        await tg.wait_for(lambda: "photo" in tg.inline_messages[imid], what="the picture after the restart")
        await tg.settle()
    finally:
        await bot.stop()
    assert len(tg.sent("answerGuestQuery")) == 1
    assert colour_name(tg.file_bytes(_file(tg, imid))) == "green"
    edits = [r for r in fake.requests if r.path.startswith("/v1/images/")]
    assert len(edits) == 1 and edits[0].path == "/v1/images/edits"


async def test_a_guest_button_naming_another_chat_is_refused(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    """Callback data is the client's to forge: Bob copies the data of a guest picture in a
    chat he isn't in onto his own inline message. Neither its original nor a redraw."""
    tg.chats[PRIVATE.id] = PRIVATE
    tg.chats[BOB.id] = Chat(BOB.id, "private", "Bob")
    victim = await _drawn(tg, tg.guest_message(STRANGERS, ALICE, f"@{BOT_USERNAME} a red fox"))
    original, regenerate = _data(tg.inline_messages[victim], "📎"), _data(tg.inline_messages[victim], "🔁")
    query = tg.inline_query(BOB, "a blue kite")
    answer = await tg.wait_for(lambda: tg.inline_answers.get(query), what="the inline answer")
    mine = tg.choose_inline(query, answer["results"][0]["id"])
    await tg.wait_for(lambda: "photo" in tg.inline_messages[mine], what="Bob's picture")
    documents, before, calls = len(tg.sent("sendDocument")), _file(tg, victim), len(world.provider_calls())
    taps = [tg.press_inline(mine, "", BOB, data=data) for data in (original, regenerate)]
    await tg.wait_for(lambda: all(tap in tg.answered for tap in taps), what="the answers")
    await tg.settle()
    assert len(tg.sent("sendDocument")) == documents
    assert _file(tg, victim) == before and len(world.provider_calls()) == calls
    assert all("another chat" in (tg.answered[tap].get("text") or "") for tap in taps)
