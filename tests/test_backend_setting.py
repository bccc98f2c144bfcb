"""REDRAW_BACKENDS: the backends chats may use and pick in /settings, and its defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_engine
from bot.backends.http import UpstreamClient
from bot.blobs import MemoryBlobStore
from bot.config import ConfigError, load_settings
from bot.engine.inbound import ChatKind, Inbound
from bot.engine.records import MessageKey
from storage.setup import open_storage
from tests.conftest import TEST_API_KEY
from tests.fakes.channel import CollectingChannel
from tests.fakes.openai_server import FakeOpenAI

PROXY = "https://proxy.example.com/v1"


def test_openai_itself_offers_responses_and_images() -> None:
    # gpt-image-2-all, the chat backend's model, is served by proxies only.
    assert load_settings().enabled_backends == ["responses", "images"]
    assert load_settings(redraw_backend="images").enabled_backends == ["images", "responses"]


def test_a_proxy_offers_only_the_configured_backend() -> None:
    assert load_settings(openai_base_url=PROXY).enabled_backends == ["responses"]
    assert load_settings(openai_base_url=PROXY, redraw_backend="chat").enabled_backends == ["chat"]


def test_the_operator_lists_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", PROXY)
    monkeypatch.setenv("REDRAW_BACKENDS", " images, responses ,chat,images")
    monkeypatch.setenv("REDRAW_BACKEND", "images")
    assert load_settings().enabled_backends == ["images", "responses", "chat"]
    monkeypatch.setenv("REDRAW_BACKENDS", "")
    assert load_settings().enabled_backends == ["images"]


@pytest.mark.parametrize(
    ("backends", "message"),
    [
        ("images,chat", "REDRAW_BACKENDS: must include REDRAW_BACKEND (responses)"),
        ("responses,dalle", "REDRAW_BACKENDS: Input should be 'responses', 'chat' or 'images'"),
    ],
)
def test_a_wrong_list_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, backends: str, message: str
) -> None:
    monkeypatch.setenv("REDRAW_BACKENDS", backends)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)


async def test_chats_are_offered_and_may_pick_only_those(fake: FakeOpenAI, tmp_path: Path) -> None:
    settings = load_settings(
        openai_base_url=fake.base_url, openai_api_key=TEST_API_KEY, redraw_data_dir=tmp_path / "data"
    )
    store, _ = await open_storage(settings)
    try:
        async with UpstreamClient.from_settings(settings) as client:
            engine = build_engine(settings, store, MemoryBlobStore(), client)
            channel = CollectingChannel()

            async def settings_command(text: str) -> None:
                key = MessageKey("test", "c", str(len(channel.said)))
                inbound = Inbound(key, "u", "U", ChatKind.PRIVATE, text, command="settings")
                await engine.handle(inbound, channel)

            await settings_command("")
            view = channel.of("settings")[0].view
            assert view is not None
            backend = next(group for group in view.groups if group.name == "backend")
            assert [option.value for option in backend.options] == ["responses"]
            await settings_command("backend images")
            assert "“images” isn't a valid backend. Choose one of: responses" in channel.texts[-1]
            assert "backend" not in (await store.chat_state("test", "c")).settings
    finally:
        await store.close()
