"""Discord's rate limits spent on results first, with the fake enforcing its per-channel
buckets (and discord.py reading their headers): nothing lost, no 429, few calls a picture."""

from __future__ import annotations

from typing import Any

from adapters.discord_adapter.pacing import RateLimits
from bot.engine.options import EngineOptions
from tests.discord.conftest import ALICE, DiscordWorld
from tests.fakes.discord_server import FakeDiscord, User
from tests.fakes.openai_server import FakeOpenAI

DEFAULTS = EngineOptions()
REAL = {"limits": RateLimits()}


def pictures(dc: FakeDiscord, channel: int) -> list[dict[str, Any]]:
    return [
        m
        for m in dc.bot_messages(channel)
        if any(a["filename"].startswith("redraw-") for a in m["attachments"])
    ]


async def test_ten_members_of_a_channel_at_once_all_get_their_picture(
    idle_world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    dc.limit_rates()
    await idle_world.start(status_after_s=DEFAULTS.status_after_s, adapter=REAL)
    fake.latency = 1.0
    members = [User(700 + n, f"Member{n}") for n in range(10)]
    prompts = [
        await dc.say(member, f"a kite for member {n}", guild=idle_world.guild, mention_bot=True)
        for n, member in enumerate(members)
    ]
    channel = idle_world.channel
    await dc.wait_for(lambda: len(pictures(dc, channel)) == 10 or None, within=40, what="ten pictures")
    await dc.settle(0.5)
    replies = sorted(int(m["message_reference"]["message_id"]) for m in pictures(dc, channel))
    assert replies == sorted(prompts)
    assert dc.limited == []
    # One message per picture, and few calls besides (statuses for pictures that waited).
    calls = [call for call in dc.calls if call.path.startswith(f"/channels/{channel}/")]
    assert len(calls) <= 10 + 6
    assert dc.calls_to("POST", f"/channels/{channel}/typing") == []


async def test_statuses_coalesce_within_the_channels_budget(
    idle_world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    """The engine wants an update 20 times a second: only the latest state goes out, and
    the channel's last calls are left to the picture."""
    dc.limit_rates()
    await idle_world.start(status_after_s=0, progress_every_s=0.05, adapter=REAL)
    fake.fail("slow", delay=2.5)
    await dc.say(ALICE, "a slow kite", guild=idle_world.guild, mention_bot=True)
    await dc.wait_for(lambda: pictures(dc, idle_world.channel) or None, within=20, what="the picture")
    await dc.settle(0.5)
    channel = idle_world.channel
    edits = dc.calls_to("PATCH", f"/channels/{channel}/messages/")
    # The clock shows 0:00 to 0:02: at most that many states; then the picture, then the board goes.
    assert len(edits) <= 3 and dc.limited == []
    assert [m["id"] for m in dc.bot_messages(channel)] == [m["id"] for m in pictures(dc, channel)]
