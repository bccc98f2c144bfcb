"""Region edits on Discord: ✏️ answers the presser alone with the grid, cells are toggled
in place, Done opens a form, and its answer is a region edit whose mask reaches the
provider; 🌳 and /history send the versions as a contact sheet."""

from __future__ import annotations

from typing import Any

from tests.discord.conftest import ALICE, BOB, DiscordWorld
from tests.fakes.discord_server import FakeDiscord, InteractionRecord
from tests.helpers import colour_name
from tests.region_checks import assert_mask_is_cells, mask_of


def content(dc: FakeDiscord, message_id: int | None) -> str:
    return str(dc.messages.get(message_id or 0, {}).get("content", ""))


async def open_grid(dc: FakeDiscord, world: DiscordWorld, picture: dict[str, Any]) -> int:
    opened = await dc.press(int(picture["id"]), "✏️", ALICE, guild=world.guild)
    await dc.wait_for(lambda: "Tap the cells" in content(dc, opened.original_id), what="the grid")
    assert opened.ephemeral
    assert opened.original_id is not None
    return opened.original_id


async def toggle(dc: FakeDiscord, world: DiscordWorld, grid: int, label: str) -> None:
    await dc.press(grid, label, ALICE, guild=world.guild)
    await dc.wait_for(lambda: label in content(dc, grid).rsplit(":", 1)[-1], what=f"{label} chosen")


async def answer(dc: FakeDiscord, record: InteractionRecord) -> dict[str, Any]:
    await dc.wait_for(lambda: record.callbacks, what="the answer")
    return record.callbacks[0]


async def test_the_grid_flow_sends_a_mask_of_exactly_the_chosen_cells(
    world: DiscordWorld, dc: FakeDiscord
) -> None:
    await dc.say(ALICE, "a blue house", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    assert dc.buttons(int(picture["id"]))[-2:] == ["✏️ Edit a region", "🌳 Versions"]
    assert [len(row["components"]) for row in dc.messages[int(picture["id"])]["components"]] == [5, 1]
    grid = await open_grid(dc, world, picture)
    rows = dc.messages[grid]["components"]
    assert [len(row["components"]) for row in rows] == [4, 4, 4, 4, 4]
    assert dc.messages[grid]["attachments"] and dc.messages[grid]["flags"] == 64
    await toggle(dc, world, grid, "B2")
    await toggle(dc, world, grid, "C2")
    assert len(dc.messages[grid]["attachments"]) == 1
    done = await dc.press(grid, "✅ Done", ALICE, guild=world.guild)
    await dc.wait_for(lambda: done.modal, what="the form")
    assert len(world.provider_calls()) == 1
    await dc.submit_modal(done, ["make it red"])
    edited = await dc.wait_picture(world.channel, after=int(picture["id"]))
    assert colour_name(dc.file(edited["attachments"][0])) == "red"
    assert_mask_is_cells(mask_of(world.provider_calls()[-1]), {"B2", "C2"}, (1024, 1024))


async def test_someone_elses_toggle_is_refused(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, "a blue boat", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    grid = await open_grid(dc, world, picture)
    before = dc.messages[grid]["components"]
    refused = await answer(dc, await dc.press(grid, "A1", BOB, guild=world.guild))
    assert refused["type"] == 4 and "Only the person who opened this grid" in refused["data"]["content"]
    assert refused["data"]["flags"] & 64
    assert dc.messages[grid]["components"] == before


async def test_done_with_no_cell_says_so_and_calls_nobody(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, "a blue kite", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    grid = await open_grid(dc, world, picture)
    said = await answer(dc, await dc.press(grid, "✅ Done", ALICE, guild=world.guild))
    assert said["type"] == 4 and "Nothing is marked to change" in said["data"]["content"]
    assert len(world.provider_calls()) == 1
    cancelled = await answer(dc, await dc.press(grid, "✖ Cancel", ALICE, guild=world.guild))
    assert cancelled["type"] == 7
    assert dc.messages[grid]["components"] == [] and dc.messages[grid]["attachments"] == []


async def test_versions_and_history_send_a_contact_sheet(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.say(ALICE, "a blue fox", guild=world.guild, mention_bot=True)
    first = await dc.wait_picture(world.channel)
    await dc.say(ALICE, "make it red", guild=world.guild, reply_to=int(first["id"]))
    second = await dc.wait_picture(world.channel, after=int(first["id"]))
    await dc.press(int(second["id"]), "🌳", ALICE, guild=world.guild)
    sheet = await dc.wait_message(
        world.channel,
        lambda m: int(m["id"]) > int(second["id"]) and "How this image was made" in m["content"],
        what="the sheet",
    )
    assert sheet["attachments"] and sheet["components"] == []
    assert "2. make it red" in sheet["content"]
    history = await dc.slash(ALICE, "history", guild=world.guild)
    await dc.wait_for(lambda: "2 steps" in content(dc, history.original_id), what="the /history card")
    assert dc.messages[history.original_id or 0]["attachments"]
