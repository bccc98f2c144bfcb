"""Inline buttons: regenerate, variations, original, undo, cancel, and the settings keyboard."""

from __future__ import annotations

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import colour_name
from tests.telegram.conftest import ALICE, BOB, GROUP, PRIVATE, TelegramWorld


async def test_callback_data_names_the_turn_in_a_few_bytes(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "a blue kite")
    photo = await tg.wait_photo(PRIVATE)
    data = [button["callback_data"] for row in photo["reply_markup"]["inline_keyboard"] for button in row]
    assert all(len(item.encode()) <= 64 for item in data)
    # The turn id is in the data itself, so buttons work after a restart, on any instance.
    assert len({item.rsplit(":", 1)[1] for item in data}) == 1


async def test_regenerate_draws_the_same_prompt_again(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "a red balloon")
    first = await tg.wait_photo(PRIVATE)
    query = tg.press(first, "🔁", ALICE)
    second = await tg.wait_photo(PRIVATE, after=first["message_id"])
    assert query in tg.answered
    assert colour_name(tg.photo_bytes(second)) == "red"
    assert "a red balloon" in second["caption"]
    assert len(world.provider_calls()) == 2


async def test_variations_arrive_as_an_album_with_buttons_below(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    tg.send(PRIVATE, ALICE, "a green leaf")
    first = await tg.wait_photo(PRIVATE)
    tg.press(first, "🎲", ALICE)
    buttons = await tg.wait_message(
        PRIVATE, lambda m: "💲" in m.get("text", ""), after=first["message_id"], what="the buttons"
    )
    album = [m for m in tg.bot_messages(PRIVATE) if m.get("media_group_id")]
    assert len(album) == 3
    assert buttons["reply_to_message"]["message_id"] == album[0]["message_id"]
    assert tg.buttons(buttons) == [
        "🔁 Regenerate",
        "🎲 Variations",
        "📎 Original",
        "↩️ Undo",
        "✏️ Edit a region",
        "🌳 Versions",
    ]
    # Replying to the second variation continues from that one.
    tg.send(PRIVATE, ALICE, "make it orange", reply_to=album[1])
    edited = await tg.wait_photo(PRIVATE, after=buttons["message_id"])
    assert colour_name(tg.photo_bytes(edited)) == "orange"


async def test_original_sends_the_file_itself(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.send(PRIVATE, ALICE, "a yellow star")
    photo = await tg.wait_photo(PRIVATE)
    tg.press(photo, "📎", ALICE)
    document = await tg.wait_message(PRIVATE, lambda m: "document" in m, what="the original")
    stored = tg.file_bytes(document["document"]["file_id"])
    assert stored == tg.photo_bytes(photo)  # small enough: the photo was the original itself
    assert document["document"]["file_name"].endswith(".png")
    assert document["reply_to_message"]["message_id"] == photo["message_id"]


async def test_undo_shows_the_previous_version_and_continues_from_it(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    tg.send(PRIVATE, ALICE, "a blue car")
    first = await tg.wait_photo(PRIVATE)
    tg.send(PRIVATE, ALICE, "make it red", reply_to=first)
    second = await tg.wait_photo(PRIVATE, after=first["message_id"])
    tg.press(second, "↩️", ALICE)
    back = await tg.wait_photo(PRIVATE, after=second["message_id"])
    assert colour_name(tg.photo_bytes(back)) == "blue" and "Back to the previous version" in back["caption"]
    # A plain follow-up now continues from the blue car, not the red one.
    tg.send(PRIVATE, ALICE, "add green wheels")
    await tg.wait_photo(PRIVATE, after=back["message_id"])
    calls = world.provider_calls()
    assert calls[2].json["previous_response_id"] == calls[1].json["previous_response_id"]


async def test_undo_of_a_first_picture_says_so(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "a red cup")
    photo = await tg.wait_photo(PRIVATE)
    tg.press(photo, "↩️", ALICE)
    await tg.wait_text(PRIVATE, "This is the first version")


async def test_cancel_stops_the_drawing_and_charges_nothing(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    fake.fail("slow", delay=30)
    tg.send(PRIVATE, ALICE, "a slow blue snail")
    progress = await tg.wait_text(PRIVATE, "Drawing")
    await tg.wait_for(world.provider_calls, what="the provider call")
    # Someone else can't cancel it.
    query = tg.press(progress, "✖", BOB)
    await tg.wait_for(lambda: query in tg.answered)
    await tg.wait_text(PRIVATE, "Only the person who asked")
    tg.press(progress, "✖", ALICE)
    cancelled = await tg.wait_text(PRIVATE, "Cancelled. Nothing was charged")
    await tg.settle()
    assert [m for m in tg.bot_messages(PRIVATE) if "photo" in m] == []
    # The status message became the answer, its Cancel button gone: one call, no removal.
    assert cancelled["message_id"] == progress["message_id"] and tg.buttons(cancelled) == []
    assert tg.sent("deleteMessage") == []
    tg.send(PRIVATE, ALICE, "/usage")
    await tg.wait_text(PRIVATE, "today 0 images ($0.00)")


async def test_settings_keyboard_changes_what_the_next_request_uses(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    tg.send(PRIVATE, ALICE, "/settings")
    menu = await tg.wait_text(PRIVATE, "Tap to change")
    labels = tg.buttons(menu)
    assert "📐 auto ✓" in labels and "📐 3:2" in labels and "📐 16:9 4K" in labels
    assert "✨ high" in labels and "🖼 webp" in labels
    # Of a proxy only the configured backend is known to work: the only one offered.
    assert [label for label in labels if label.startswith("⚙️")] == ["⚙️ responses ✓"]

    query = tg.press(menu, "📐 3:2", ALICE)
    await tg.wait_for(lambda: "📐 3:2 ✓" in tg.buttons(menu), what="the keyboard to show the new size")
    await tg.wait_for(lambda: query in tg.answered, what="the answer")
    assert "Saved" in tg.answered[query]["text"] and not tg.answered[query].get("show_alert")
    assert "1536x1024" in tg.messages[(PRIVATE.id, menu["message_id"])]["text"]
    tg.press(menu, "✨ low", ALICE)
    await tg.wait_for(lambda: "✨ low ✓" in tg.buttons(menu))

    tg.send(PRIVATE, ALICE, "a wide red field")
    photo = await tg.wait_photo(PRIVATE)
    tool = world.provider_calls()[-1].json["tools"][0]
    assert (tool["size"], tool["quality"]) == ("1536x1024", "low")
    assert tg.photo_bytes(photo) and photo["photo"][-1]["width"] == 1536


async def test_group_settings_are_for_admins(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.admins[GROUP.id] = {ALICE.id}
    tg.send(GROUP, BOB, "/settings")
    menu = await tg.wait_text(GROUP, "Tap to change")
    refused = tg.press(menu, "✨ high", BOB)
    await tg.wait_for(lambda: refused in tg.answered)
    assert tg.answered[refused]["show_alert"] and "Only this chat's admins" in tg.answered[refused]["text"]
    assert "✨ auto ✓" in tg.buttons(menu)
    tg.press(menu, "✨ high", ALICE)
    await tg.wait_for(lambda: "✨ high ✓" in tg.buttons(menu))
    # The text form too.
    tg.send(GROUP, BOB, "/settings format jpeg")
    await tg.wait_text(GROUP, "Only this chat's admins can change")
    tg.send(GROUP, ALICE, "/settings format jpeg")
    await tg.wait_text(GROUP, "format jpeg")


async def test_only_the_enabled_backends_are_offered_and_accepted(
    idle_world: TelegramWorld, tg: FakeTelegram
) -> None:
    await idle_world.start(redraw_backends=["responses", "images"])
    tg.send(PRIVATE, ALICE, "/settings")
    menu = await tg.wait_text(PRIVATE, "Tap to change")
    assert [label for label in tg.buttons(menu) if label.startswith("⚙️")] == ["⚙️ images", "⚙️ responses ✓"]
    # A stale keyboard or a forged press can't switch to a backend that is not enabled.
    forged = tg.button_press(menu, "⚙️ images", ALICE)
    forged["data"] = "s:backend:chat"
    tg.deliver({"callback_query": forged})
    await tg.wait_for(lambda: forged["id"] in tg.answered, what="the answer")
    assert tg.answered[forged["id"]]["show_alert"]
    assert (
        "“chat” isn't a valid backend. Choose one of: images, responses" in tg.answered[forged["id"]]["text"]
    )
    tg.send(PRIVATE, ALICE, "/settings backend chat")
    await tg.wait_text(PRIVATE, "“chat” isn't a valid backend")
    tg.press(menu, "⚙️ images", ALICE)
    await tg.wait_for(lambda: "⚙️ images ✓" in tg.buttons(menu), what="the keyboard to show images")
    tg.send(PRIVATE, ALICE, "a red kite")
    await tg.wait_photo(PRIVATE)
    assert [call.path for call in idle_world.provider_calls()] == ["/v1/images/generations"]
