"""From settings to a drawn picture: open_storage (SQLite upgrades itself) and build_engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.config import ConfigError, load_settings
from bot.app.wiring import build_engine, engine_options, open_storage, upstream_client
from bot.engine.records import MessageKey
from bot.engine.seams import ChatKind, Inbound
from tests.conftest import TEST_API_KEY
from tests.fakes.channel import CollectingChannel
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name


async def test_settings_to_a_picture(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDRAW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("REDRAW_BACKEND", "images")
    settings = load_settings()
    store, blobs = await open_storage(settings)
    assert (tmp_path / "data" / "redraw.db").exists()
    async with upstream_client(settings) as client:
        engine = build_engine(settings, store, blobs, client)
        channel = CollectingChannel()
        inbound = Inbound(MessageKey("test", "c", "1"), "u", "U", ChatKind.PRIVATE, "a green hill")
        await engine.handle(inbound, channel)
        await engine.drain()
    await store.close()
    assert colour_name(channel.results[0].images[0].data) == "green"
    assert len(list((tmp_path / "data" / "blobs").glob("??/*"))) == 1


def test_engine_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "REDRAW_LIMIT_PER_USER": "1",
        "REDRAW_LIMIT_PER_CHAT": "3",
        "REDRAW_LIMIT_GLOBAL": "10",
        "REDRAW_BUDGET_USER_DAILY_USD": "1.5",
        "REDRAW_BUDGET_CHAT_MONTHLY_USD": "20",
        "REDRAW_ALLOWED_USERS": "telegram:1, discord:2",
        "REDRAW_ADMINS": "telegram:1",
        "REDRAW_PRICES": '{"gpt-image-2": {"image_out": 20}}',
    }.items():
        monkeypatch.setenv(name, value)
    options = engine_options(load_settings())
    assert (options.limits.per_user, options.limits.per_chat, options.limits.global_) == (1, 3, 10)
    assert (options.budgets.user_daily, options.budgets.chat_monthly) == (1.5, 20)
    assert options.access.allowed_users == {"telegram:1", "discord:2"}
    assert options.prices.price("gpt-image-2").image_out == 20
    assert options.models == {"responses": "gpt-image-2", "images": "gpt-image-2", "chat": "gpt-image-2-all"}


def test_bad_prices_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDRAW_PRICES", "{broken")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("REDRAW_PRICES")
