"""Running the real bot (PTB Application, engine, SQLite, blobs) against the fake
Bot API server and the fake provider, as `redraw run --platform telegram` would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.telegram_adapter.pacing import FloodLimits
from bot.app.config import Settings, load_settings
from tests.bot_world import BotWorld
from tests.conftest import TEST_API_KEY
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import TOKEN, Chat, FakeTelegram, User

ALICE = User(501, "Alice", "en", "alice")
BOB = User(502, "Bob", "en", "bob")
LI = User(503, "Li", "zh-hans", "li")
PRIVATE = Chat(501, "private", "Alice")
GROUP = Chat(-1001234, "supergroup", "Artists")

# Short windows and loose pacing so tests run fast: the real album window is 1 s, and the
# real pacing keeps to Telegram's flood limits (tests about them use FloodLimits()).
FAST = FloodLimits(
    overall_per_s=1000, overall_burst=1000, chat_per_s=100, chat_burst=20, group_per_minute=6000, group_burst=100,
    group_progress_every_s=0.1,
)  # fmt: skip
ADAPTER_OPTIONS = {"album_window_s": 0.3, "poll_timeout_s": 1.0, "flood": FAST}


@dataclass(kw_only=True)
class TelegramWorld(BotWorld):
    tg: FakeTelegram


def settings_for(tg: FakeTelegram, openai: FakeOpenAI, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": tg.base_url,
        "telegram_api_file_url": tg.file_url,
        "openai_api_key": TEST_API_KEY,
        "openai_base_url": openai.base_url,
        "redraw_data_dir": data_dir,
        "redraw_partial_images": 0,
        "redraw_retry_max_seconds": 5,
        **overrides,
    }
    return load_settings(**values)


MakeWorld = Callable[..., TelegramWorld]


@pytest.fixture
async def idle_world(tg: FakeTelegram, fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[TelegramWorld]:
    """Everything the bot needs, for a test to start (and restart) itself."""
    built = TelegramWorld(
        tg=tg,
        openai=fake,
        settings=settings_for(tg, fake, tmp_path / "data"),
        platforms=("telegram",),
        adapter_options={"telegram": ADAPTER_OPTIONS},
    )
    yield built
    await built.stop_all()


@pytest.fixture
async def world(idle_world: TelegramWorld) -> TelegramWorld:
    """The bot, started, in long-polling mode."""
    await idle_world.start()
    return idle_world
