from __future__ import annotations

from tests.discord.conftest import ALICE, DiscordWorld
from tests.fakes.discord_server import FakeDiscord
from tests.helpers import colour_name


async def test_mention_draws(world: DiscordWorld, dc: FakeDiscord) -> None:
    prompt = await dc.say(ALICE, "a red fox in the snow", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    assert picture["message_reference"]["message_id"] == str(prompt)
    assert colour_name(dc.file(picture["attachments"][0])) == "red"


async def test_imagine(world: DiscordWorld, dc: FakeDiscord) -> None:
    await dc.slash(ALICE, "imagine", {"prompt": "a blue boat"}, guild=world.guild)
    picture = await dc.wait_picture(world.channel)
    assert colour_name(dc.file(picture["attachments"][0])) == "blue"
