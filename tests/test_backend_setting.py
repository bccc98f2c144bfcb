"""REDRAW_BACKENDS: the backends chats may use and pick in /settings, and its defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.config import ConfigError, load_settings
from bot.app.wiring import build_engine, open_storage, upstream_client
from bot.backends import ChatBackend, ImagesBackend
from bot.backends.http import UpstreamClient
from bot.blobs import MemoryBlobStore
from bot.engine.entry import Engine
from bot.engine.options import EngineOptions
from bot.engine.records import MessageKey
from bot.engine.seams import ActionKind, ActionPress, ChatKind, Inbound
from storage.blobs import FileBlobStore
from storage.sql import SqlStore
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
        async with upstream_client(settings) as client:
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


async def test_regenerating_a_picture_of_a_backend_no_longer_enabled_uses_the_default(
    store: SqlStore, fake: FakeOpenAI, file_blobs: FileBlobStore
) -> None:
    models = {"images": "gpt-image-2", "chat": "gpt-image-2-all"}
    channel = CollectingChannel()
    async with UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY) as client:
        every = {
            "images": ImagesBackend(client, file_blobs, [models["images"]]),
            "chat": ChatBackend(client, file_blobs, [models["chat"]]),
        }
        before = Engine(store, file_blobs, every, EngineOptions("chat", models))
        await before.handle(
            Inbound(MessageKey("test", "c", "1"), "u", "U", ChatKind.PRIVATE, "a fox"), channel
        )
        await before.drain()
        # The operator narrows REDRAW_BACKENDS to images; the old picture's Regenerate still works.
        after = Engine(store, file_blobs, {"images": every["images"]}, EngineOptions("images", models))
        regenerate = channel.action(ActionKind.REGENERATE)
        press = ActionPress(ActionKind.REGENERATE, regenerate.turn_id, channel.last_image_key(), "u")
        await after.press(press, channel)
        await after.drain()
    first, second = [request for request in fake.requests if request.path.startswith("/v1/")]
    assert first.path == "/v1/chat/completions" and first.json["model"] == "gpt-image-2-all"
    assert second.path == "/v1/images/generations" and second.json["model"] == "gpt-image-2"
    redrawn = await store.get_turn(channel.results[-1].actions[0].turn_id)
    assert redrawn is not None and (redrawn.backend, redrawn.model) == ("images", "gpt-image-2")
