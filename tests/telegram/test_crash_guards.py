"""Crash guards on Telegram (issue 12): a settings pick the database fails is still
answered, a reply to an album's buttons message continues from its turn, and a bot
picture's buttons pressed in another chat draw nothing."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.telegram_adapter.inbound import message_key
from bot.messages import render
from tests.fakes.telegram_server import Chat, FakeTelegram
from tests.helpers import colour_name
from tests.telegram.conftest import ALICE, BOB, GROUP, PRIVATE, TelegramWorld

BOBS_CHAT = Chat(BOB.id, "private", "Bob")


def turn_named(tg: FakeTelegram, message: dict[str, Any]) -> int:
    """The turn a bot message's buttons act on."""
    return int(tg.button_data(message, "🔁").rsplit(":", 1)[1])


async def test_a_settings_pick_the_database_fails_is_answered_with_an_alert(
    world: TelegramWorld, tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    tg.send(PRIVATE, ALICE, "/settings")
    menu = await tg.wait_text(PRIVATE, "Tap to change")
    store = world.runtimes[0].store
    working = store.chat_state
    down = True

    async def chat_state(platform: str, chat_id: str) -> Any:
        if down:
            raise ConnectionError("the database is unreachable")
        return await working(platform, chat_id)

    monkeypatch.setattr(store, "chat_state", chat_state)
    query = tg.press(menu, "📐 3:2", ALICE)
    answer = await tg.wait_for(lambda: tg.answered.get(query), what="the answer to the pick")
    assert answer["show_alert"] and answer["text"] == render("internal_error", "en")
    assert "📐 auto ✓" in tg.buttons(menu)

    # The database is back: the same keyboard works.
    down = False
    tg.press(menu, "📐 3:2", ALICE)
    await tg.wait_for(lambda: "📐 3:2 ✓" in tg.buttons(menu), what="the keyboard to show the new size")


async def test_a_reply_to_an_albums_buttons_message_continues_from_its_turn(
    idle_world: TelegramWorld, tg: FakeTelegram
) -> None:
    runtime = await idle_world.start(redraw_backend="images")
    tg.send(GROUP, ALICE, "@redraw_test_bot a green leaf")
    first = await tg.wait_photo(GROUP)
    tg.press(first, "🎲", ALICE)
    buttons = await tg.wait_message(
        GROUP, lambda m: "💲" in m.get("text", ""), after=first["message_id"], what="the buttons"
    )
    variations = await runtime.store.get_turn(turn_named(tg, buttons))
    assert variations is not None and len(variations.output_blobs) == 3
    stored = await runtime.store.sent_message(message_key(GROUP.id, buttons["message_id"]))
    assert stored is not None and stored.turn_id == variations.id

    # In a group a plain message continues nothing: only the reply names the turn.
    tg.send(GROUP, ALICE, "make it red", reply_to=buttons)
    edited = await tg.wait_photo(GROUP, after=buttons["message_id"])
    assert colour_name(tg.photo_bytes(edited)) == "red"
    edit = idle_world.provider_calls()[-1]
    assert edit.path.endswith("/images/edits")
    assert edit.input_image_hashes() == variations.output_blobs[:1]
    child = await runtime.store.get_turn(turn_named(tg, edited))
    assert child is not None and child.parent_id == variations.id


async def test_buttons_of_a_picture_forwarded_to_another_chat_draw_nothing(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    tg.send(PRIVATE, ALICE, "a blue kite")
    photo = await tg.wait_photo(PRIVATE)
    await tg.settle()
    calls = len(world.provider_calls())

    # Alice's picture, forwarded into Bob's chat with the bot: the copy keeps its buttons.
    tg.chats[BOBS_CHAT.id] = BOBS_CHAT
    copy = {**photo, "message_id": 99_999, "chat": BOBS_CHAT.json()}
    tg.messages[(BOBS_CHAT.id, copy["message_id"])] = copy
    query = tg.press(copy, "🔁", BOB)

    notice = await tg.wait_text(BOBS_CHAT, render("button_other_chat", "en"))
    assert notice["reply_to_message"]["message_id"] == copy["message_id"]
    await tg.wait_for(lambda: query in tg.answered, what="the answer to the press")
    await tg.settle()
    assert len(world.provider_calls()) == calls
    assert [m for m in tg.bot_messages(PRIVATE) if "photo" in m] == [photo]
    assert [m for m in tg.bot_messages(BOBS_CHAT) if "photo" in m] == [copy]
