"""Crash guards on Discord (issue 12): a settings pick the database fails is still
answered, rather than leaving "This interaction failed"."""

from __future__ import annotations

from typing import Any

import pytest

from bot.messages import render
from tests.discord.conftest import ALICE, DiscordWorld
from tests.fakes.discord_server import FakeDiscord


async def test_a_settings_pick_the_database_fails_is_answered(
    world: DiscordWorld, dc: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await dc.slash(ALICE, "settings", guild=world.guild)
    menu_id = await dc.wait_for(lambda: run.original_id, what="the settings card")
    await dc.wait_for(lambda: dc.messages[menu_id]["components"], what="the select menus")
    store = world.runtimes[0].store
    working = store.chat_state
    down = True

    async def chat_state(platform: str, chat_id: str) -> Any:
        if down:
            raise ConnectionError("the database is unreachable")
        return await working(platform, chat_id)

    monkeypatch.setattr(store, "chat_state", chat_state)
    failed = await dc.pick(menu_id, "s:quality", "high", ALICE, guild=world.guild)
    await dc.wait_for(lambda: failed.callbacks, what="the answer to the pick")
    answer = failed.callbacks[0]
    assert answer["type"] == 4 and answer["data"]["flags"] & 64  # said to Alice alone
    assert answer["data"]["content"] == render("internal_error", "en")
    assert "quality auto" in dc.messages[menu_id]["content"]

    # The database is back: the same menu works.
    down = False
    again = await dc.pick(menu_id, "s:quality", "high", ALICE, guild=world.guild)
    await dc.wait_for(lambda: again.callbacks, what="the answer to the pick")
    assert again.callbacks[0]["type"] == 7
    assert "quality high" in dc.messages[menu_id]["content"]
