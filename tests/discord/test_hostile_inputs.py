"""Hostile inputs over the real discord.py: invisible prompts."""

from __future__ import annotations

from tests.discord.conftest import ALICE, DiscordWorld
from tests.fakes.discord_server import FakeDiscord

INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\ufe0f"


def nothing_fetched(world: DiscordWorld, dc: FakeDiscord) -> None:
    assert dc.downloads == []
    assert world.provider_calls() == []


async def test_an_invisible_prompt_is_an_empty_one(world: DiscordWorld, dc: FakeDiscord) -> None:
    run = await dc.slash(ALICE, "imagine", {"prompt": INVISIBLE}, guild=world.guild)
    card = await dc.wait_for(lambda: run.original_id, what="the card")
    await dc.wait_for(lambda: "Tell me what to draw" in dc.messages[card]["content"], what="the refusal")
    # A mention with only invisible text is a bare mention: not a drawing.
    await dc.say(ALICE, INVISIBLE, guild=world.guild, mention_bot=True)
    await dc.settle()
    nothing_fetched(world, dc)
