"""Region edits on Telegram: ✏️ opens the grid, cells are toggled in place, Done asks for
the change, and the reply to the grid is a region edit whose mask reaches the provider;
🌳 and /history send the versions as a contact sheet."""

from __future__ import annotations

from typing import Any

from adapters.pacing import Priority
from adapters.telegram_adapter.service import TelegramAdapter
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import colour_name
from tests.region_checks import assert_mask_is_cells, mask_of, save_doc_image
from tests.telegram.conftest import ALICE, BOB, GROUP, PRIVATE, TelegramWorld


def caption(tg: FakeTelegram, message: dict[str, Any]) -> str:
    current = tg.messages.get((message["chat"]["id"], message["message_id"]), message)
    return str(current.get("caption") or current.get("text") or "")


async def open_grid(tg: FakeTelegram, chat: Any, picture: dict[str, Any]) -> dict[str, Any]:
    tg.press(picture, "✏️", ALICE)
    return await tg.wait_message(
        chat, lambda m: "Tap the cells" in (m.get("caption") or ""), after=picture["message_id"], what="grid"
    )


async def toggle(tg: FakeTelegram, grid: dict[str, Any], label: str, user: Any = ALICE) -> None:
    tg.press(grid, label, user)
    await tg.wait_for(lambda: label in caption(tg, grid).rsplit(":", 1)[-1], what=f"{label} chosen")


async def test_the_grid_flow_sends_a_mask_of_exactly_the_chosen_cells(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.send(PRIVATE, ALICE, "a blue house")
    picture = await tg.wait_photo(PRIVATE)
    assert tg.buttons(picture) == [
        "🔁 Regenerate", "🎲 Variations", "📎 Original", "↩️ Undo", "✏️ Edit a region", "🌳 Versions",
    ]  # fmt: skip
    rows = picture["reply_markup"]["inline_keyboard"]
    assert [len(row) for row in rows] == [2, 2, 2]
    grid = await open_grid(tg, PRIVATE, picture)
    assert grid["reply_to_message"]["message_id"] == picture["message_id"]
    keyboard = grid["reply_markup"]["inline_keyboard"]
    assert [len(row) for row in keyboard] == [4, 4, 4, 4, 2, 2]
    data = [button["callback_data"] for row in keyboard for button in row]
    assert all(len(item.encode()) <= 64 for item in data)
    first_overlay = tg.photo_bytes(grid)
    await toggle(tg, grid, "B2")
    await toggle(tg, grid, "C2")
    await toggle(tg, grid, "C3")
    # The overlay is redrawn with the chosen cells tinted, in the same message.
    assert tg.photo_bytes(tg.messages[(PRIVATE.id, grid["message_id"])]) != first_overlay
    save_doc_image("grid.png", tg.photo_bytes(tg.messages[(PRIVATE.id, grid["message_id"])]))
    assert tg.buttons(grid)[5] == "✅ B2"
    tg.press(grid, "✅ Done", ALICE)
    await tg.wait_for(lambda: "Now reply" in caption(tg, grid), what="the ask")
    assert "B2, C2, C3" in caption(tg, grid)
    assert len(world.provider_calls()) == 1
    tg.send(PRIVATE, ALICE, "make it red", reply_to=grid)
    edited = await tg.wait_photo(PRIVATE, after=grid["message_id"])
    assert colour_name(tg.photo_bytes(edited)) == "red"
    assert tg.buttons(edited)[-2:] == ["✏️ Edit a region", "🌳 Versions"]
    call = world.provider_calls()[-1]
    assert_mask_is_cells(mask_of(call), {"B2", "C2", "C3"}, (1024, 1024))
    # A reply to the result continues the region edit's picture as any reply does.
    assert "make it red" in edited["caption"]


async def test_the_images_backend_sends_the_mask_to_images_edits(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    world = idle_world
    await world.start(redraw_backend="images")
    tg.send(PRIVATE, ALICE, "a green field")
    picture = await tg.wait_photo(PRIVATE)
    grid = await open_grid(tg, PRIVATE, picture)
    await toggle(tg, grid, "A1")
    await toggle(tg, grid, "D4")
    tg.press(grid, "✅ Done", ALICE)
    await tg.wait_for(lambda: "Now reply" in caption(tg, grid), what="the ask")
    tg.send(PRIVATE, ALICE, "add a yellow sun", reply_to=grid)
    await tg.wait_photo(PRIVATE, after=grid["message_id"])
    call = world.provider_calls()[-1]
    assert call.path.endswith("/images/edits")
    assert_mask_is_cells(mask_of(call), {"A1", "D4"}, (1024, 1024))
    assert not call.spec_errors


async def test_someone_elses_toggle_is_refused(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(GROUP, ALICE, "@redraw_test_bot a blue boat")
    picture = await tg.wait_photo(GROUP)
    grid = await open_grid(tg, GROUP, picture)
    query = tg.press(grid, "A1", BOB)
    await tg.wait_for(lambda: query in tg.answered, what="the answer")
    assert "Only the person who opened this grid" in str(tg.answered[query])
    await tg.settle()
    assert "A1" not in caption(tg, grid).rsplit(":", 1)[-1]
    # Bob can't press Done or Cancel either.
    query = tg.press(grid, "✖ Cancel", BOB)
    await tg.wait_for(lambda: query in tg.answered, what="the answer")
    assert (GROUP.id, grid["message_id"]) in tg.messages


async def test_done_with_no_cell_says_so_and_calls_nobody(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "a blue kite")
    picture = await tg.wait_photo(PRIVATE)
    grid = await open_grid(tg, PRIVATE, picture)
    query = tg.press(grid, "✅ Done", ALICE)
    await tg.wait_for(lambda: query in tg.answered, what="the answer")
    assert "Nothing is marked to change" in str(tg.answered[query])
    # A reply to a grid nobody finished is refused the same way, with no upstream call.
    tg.send(PRIVATE, ALICE, "make it red", reply_to=grid)
    await tg.wait_text(PRIVATE, "Nothing is marked to change", after=grid["message_id"])
    assert len(world.provider_calls()) == 1


async def test_cancel_removes_the_grid(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "a blue cup")
    picture = await tg.wait_photo(PRIVATE)
    grid = await open_grid(tg, PRIVATE, picture)
    tg.press(grid, "✖ Cancel", ALICE)
    await tg.wait_for(lambda: (PRIVATE.id, grid["message_id"]) not in tg.messages, what="the grid gone")


async def test_toggles_are_edits_at_status_priority(world: TelegramWorld, tg: FakeTelegram) -> None:
    adapter = world.runtimes[0].adapters[0]
    assert isinstance(adapter, TelegramAdapter)
    seen: list[Priority] = []
    original = adapter.limiter.process_request

    async def spy(**call: Any) -> Any:
        if call["endpoint"] == "editMessageMedia":
            seen.append(call["rate_limit_args"].priority)
        return await original(**call)

    adapter.limiter.process_request = spy  # type: ignore[method-assign,assignment]
    tg.send(PRIVATE, ALICE, "a blue hat")
    picture = await tg.wait_photo(PRIVATE)
    grid = await open_grid(tg, PRIVATE, picture)
    await toggle(tg, grid, "A2")
    assert seen == [Priority.STATUS]


async def test_a_failed_region_edit_retries_with_its_mask(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    tg.send(PRIVATE, ALICE, "a blue car")
    picture = await tg.wait_photo(PRIVATE)
    grid = await open_grid(tg, PRIVATE, picture)
    await toggle(tg, grid, "D1")
    tg.press(grid, "✅ Done", ALICE)
    await tg.wait_for(lambda: "Now reply" in caption(tg, grid), what="the ask")
    fake.fail("server_error", times=10)
    tg.send(PRIVATE, ALICE, "make it red", reply_to=grid)
    failure = await tg.wait_message(
        PRIVATE, lambda m: any(b.startswith("🔄") for b in tg.buttons_of(m)), after=grid["message_id"]
    )
    fake.faults.clear()
    tg.press(failure, "🔄", ALICE)
    edited = await tg.wait_photo(PRIVATE, after=failure["message_id"])
    assert colour_name(tg.photo_bytes(edited)) == "red"
    call = world.provider_calls()[-1]
    assert_mask_is_cells(mask_of(call), {"D1"}, (1024, 1024))


async def test_versions_and_history_send_a_contact_sheet(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "a blue fox")
    first = await tg.wait_photo(PRIVATE)
    tg.send(PRIVATE, ALICE, "make it red", reply_to=first)
    second = await tg.wait_photo(PRIVATE, after=first["message_id"])
    tg.send(PRIVATE, ALICE, "make it green", reply_to=first)  # a branch from the first
    third = await tg.wait_photo(PRIVATE, after=second["message_id"])
    tg.press(second, "🌳", ALICE)
    sheet = await tg.wait_message(
        PRIVATE, lambda m: "photo" in m and "How this image was made" in m.get("caption", ""),
        after=third["message_id"], what="the sheet",
    )  # fmt: skip
    assert "1. a blue fox" in sheet["caption"] and "2. make it red" in sheet["caption"]
    assert sheet["reply_to_message"]["message_id"] == second["message_id"]
    assert "reply_markup" not in sheet
    save_doc_image("versions-sheet.png", tg.photo_bytes(sheet))
    tg.send(PRIVATE, ALICE, "/history", reply_to=third)
    again = await tg.wait_message(
        PRIVATE, lambda m: "photo" in m and "make it green" in m.get("caption", ""),
        after=sheet["message_id"], what="the /history sheet",
    )  # fmt: skip
    assert again["photo"][-1]["width"] > 0
