"""Running the real bot (discord.py client, engine, SQLite, blobs) against the fake
Discord (REST, gateway, CDN) and the fake provider, as `redraw run --platform discord` would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.discord_adapter.pacing import RateLimits
from bot.app.config import Settings, load_settings
from tests.bot_world import BotWorld
from tests.conftest import TEST_API_KEY
from tests.fakes.discord_server import TOKEN, FakeDiscord, Guild, User
from tests.fakes.openai_server import FakeOpenAI

ALICE = User(301, "Alice")
BOB = User(302, "Bob")
LI = User(303, "Li", locale="zh-CN")

# Short waits and loose pacing so tests run fast: the real guild wait is 2 s, and the real
# pacing keeps to Discord's rate limits (tests about them use RateLimits()).
FAST = RateLimits(global_per_s=1000, channel_count=100, channel_period_s=1.0)
ADAPTER_OPTIONS = {"guild_ready_timeout_s": 0.05, "limits": FAST}


@dataclass(kw_only=True)
class DiscordWorld(BotWorld):
    dc: FakeDiscord
    guild: Guild

    @property
    def channel(self) -> int:
        return self.guild.channel_id


def settings_for(dc: FakeDiscord, openai: FakeOpenAI, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_bot_token": TOKEN,
        "discord_api_base_url": dc.api_url,
        "discord_gateway_url": dc.gateway_url,
        "openai_api_key": TEST_API_KEY,
        "openai_base_url": openai.base_url,
        "redraw_data_dir": data_dir,
        "redraw_partial_images": 0,
        "redraw_retry_max_seconds": 5,
        **overrides,
    }
    return load_settings(**values)


@pytest.fixture
async def idle_world(dc: FakeDiscord, fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[DiscordWorld]:
    guild = dc.add_guild(owner=ALICE)
    built = DiscordWorld(
        dc=dc,
        guild=guild,
        openai=fake,
        settings=settings_for(dc, fake, tmp_path / "data"),
        platforms=("discord",),
        adapter_options={"discord": ADAPTER_OPTIONS},
    )
    yield built
    await built.stop_all()


@pytest.fixture
async def world(idle_world: DiscordWorld) -> DiscordWorld:
    """The bot, started and connected to the gateway."""
    await idle_world.start()
    return idle_world
