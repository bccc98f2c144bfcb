"""Running the real bot (discord.py client, engine, SQLite, blobs) against the fake
Discord (REST, gateway, CDN) and the fake provider, as `redraw run --platform discord` would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import discord
import pytest
import yarl
from discord.http import Route

from adapters.runtime import Runtime
from bot.app import engine_options
from bot.config import Settings, load_settings
from tests.conftest import TEST_API_KEY
from tests.fakes.discord_server import TOKEN, FakeDiscord, Guild, User
from tests.fakes.openai_server import FakeOpenAI

ALICE = User(301, "Alice")
BOB = User(302, "Bob")
LI = User(303, "Li", locale="zh-CN")

# Short waits so tests run fast; the real defaults are 5 s and 2 s.
ADAPTER_OPTIONS = {"progress_interval_s": 0.2, "guild_ready_timeout_s": 0.05}


@dataclass
class DiscordWorld:
    dc: FakeDiscord
    openai: FakeOpenAI
    settings: Settings
    guild: Guild
    runtimes: list[Runtime] = field(default_factory=list)

    @property
    def channel(self) -> int:
        return self.guild.channel_id

    async def start(
        self,
        progress_every_s: float = 0.2,
        platforms: tuple[str, ...] = ("discord",),
        adapter: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Runtime:
        unknown = set(settings) - set(Settings.model_fields)
        assert not unknown, f"not settings: {unknown}"
        current = self.settings.model_copy(update=settings)
        options = replace(engine_options(current), progress_every_s=progress_every_s)
        adapter_options = {"discord": {**ADAPTER_OPTIONS, **(adapter or {})}}
        runtime = Runtime(current, list(platforms), options=options, adapter_options=adapter_options)
        try:
            await runtime.start()
        except BaseException:
            await runtime.stop(0)
            raise
        self.runtimes.append(runtime)
        return runtime

    async def stop(self, runtime: Runtime, grace_s: float = 5.0) -> None:
        await runtime.stop(grace_s)
        self.runtimes.remove(runtime)

    def provider_calls(self) -> list[Any]:
        return [request for request in self.openai.requests if request.path.startswith("/v1/")]


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
async def dc() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    # The adapter points discord.py's class-wide URLs at the fake; put them back afterwards.
    base, gateway = Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield server
    Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
    await server.close()


@pytest.fixture
async def idle_world(dc: FakeDiscord, fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[DiscordWorld]:
    guild = dc.add_guild(owner=ALICE)
    built = DiscordWorld(dc, fake, settings_for(dc, fake, tmp_path / "data"), guild)
    yield built
    for runtime in list(built.runtimes):
        await built.stop(runtime, grace_s=0)


@pytest.fixture
async def world(idle_world: DiscordWorld) -> DiscordWorld:
    """The bot, started and connected to the gateway."""
    await idle_world.start()
    return idle_world


__all__ = ["ALICE", "BOB", "LI", "DiscordWorld", "yarl"]
