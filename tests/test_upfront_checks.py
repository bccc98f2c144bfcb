"""What is refused before anything is downloaded: the prompt (invisible ones are empty) and
what the platform says of each upload (count with the parent's picture, type, bytes, pixels)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.backends import ImagesBackend
from bot.backends.http import UpstreamClient
from bot.engine.entry import Engine
from bot.engine.options import EngineOptions
from bot.engine.records import MessageKey
from bot.engine.seams import ChatKind, ImageInput, Inbound
from bot.errors import InputError
from bot.images.validation import check_prompt, check_upfront, is_blank, visible
from bot.messages import render_error
from storage.blobs import FileBlobStore
from storage.sql import SqlStore
from tests.conftest import TEST_API_KEY
from tests.fakes.channel import CollectingChannel
from tests.fakes.openai_server import FakeOpenAI


@dataclass(frozen=True)
class Facts:
    mime: str | None = "image/png"
    size: int | None = 1000
    width: int | None = 64
    height: int | None = 64
    max_bytes: int | None = None


def refusal(prompt: str, images: list[Facts], already: int = 0) -> InputError:
    with pytest.raises(InputError) as caught:
        check_upfront(prompt, images, already=already)
    for locale in ("en", "zh"):
        assert "{" not in render_error(caught.value, locale)
    return caught.value


@pytest.mark.parametrize(
    "text",
    [
        "\u200b",
        "\u200c\u200d",
        "\u2060\ufeff",
        "\ufe0f\ufe0e",
        "\U000e0100",
        " \u200b\n\t\u00a0\u3000",
        "\u3164\u115f\u2800",
        "\u202e\u2066\u00ad",
        "\U000e0041\U000e007f",
    ],
)
def test_invisible_prompts_are_empty(text: str) -> None:
    assert is_blank(text) and visible(text) == ""
    with pytest.raises(InputError) as caught:
        check_prompt(text)
    assert caught.value.message_key == "prompt_empty"


@pytest.mark.parametrize("text", ["a", "❤️", "👨\u200d👩\u200d👧", "\u200ba cat\u200b", "猫", "1"])
def test_visible_prompts_are_kept_as_written(text: str) -> None:
    assert not is_blank(text) and visible(text) == text
    assert check_prompt(text) == text.strip()


def test_the_count_includes_the_parents_picture() -> None:
    check_upfront("x", [Facts()] * 16)
    assert refusal("x", [Facts()] * 17).params == {"count": 17, "limit": 16}
    assert refusal("x", [Facts()] * 16, already=1).params == {"count": 17, "limit": 16}


def test_each_upload_is_checked_from_its_metadata() -> None:
    wrong_type = refusal("x", [Facts(), Facts(mime="image/x-canon-cr2")])
    assert wrong_type.message_key == "image_type_unsupported" and wrong_type.params["index"] == 2
    platform = refusal("x", [Facts(size=25 * 2**20, max_bytes=20 * 2**20)])
    assert platform.message_key == "download_too_large" and platform.params["limit_mb"] == 20
    too_big = refusal("x", [Facts(size=51 * 2**20)])
    assert too_big.message_key == "image_too_big" and too_big.params["size_mb"] == 51.0
    pixels = refusal("x", [Facts(width=9000, height=9000)])
    assert pixels.message_key == "image_too_many_pixels" and pixels.params["megapixels"] == 81
    # What the platform does not say is left to the decoder.
    check_upfront("x", [Facts(mime=None, size=None, width=None, height=None)])
    check_upfront("x", [Facts(mime="IMAGE/HEIC")])


def test_a_hostile_type_is_quoted_cut() -> None:
    error = refusal("x", [Facts(mime="image/" + "x" * 5000)])
    assert len(render_error(error)) < 200


def test_the_prompt_is_checked_first() -> None:
    assert refusal("\u200b", [Facts()] * 20).message_key == "prompt_empty"


@pytest.fixture
async def engine(store: SqlStore, fake: FakeOpenAI, file_blobs: FileBlobStore) -> AsyncIterator[Engine]:
    async with UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY) as client:
        backends = {"images": ImagesBackend(client, file_blobs, ["gpt-image-2"])}
        yield Engine(store, file_blobs, backends, EngineOptions("images", {"images": "gpt-image-2"}))


async def test_a_reply_to_a_picture_with_16_uploads_downloads_nothing(
    engine: Engine, fake: FakeOpenAI
) -> None:
    channel = CollectingChannel()
    first = Inbound(MessageKey("test", "c1", "1"), "u1", "U", ChatKind.PRIVATE, "a blue cat")
    await engine.handle(first, channel)
    await engine.drain()
    fetched: list[int] = []

    def upload(index: int) -> ImageInput:
        async def load() -> bytes:
            fetched.append(index)
            return b""

        return ImageInput(load, "image/png", size=1000, width=64, height=64)

    reply = Inbound(
        MessageKey("test", "c1", "2"),
        "u1",
        "U",
        ChatKind.PRIVATE,
        "add these",
        images=tuple(upload(index) for index in range(16)),
        reply_to=channel.last_image_key(),
    )
    await engine.handle(reply, channel)
    await engine.drain()
    # 16 uploads and the picture replied to are 17 inputs: refused, nothing fetched or stored.
    assert "That is 17 images" in channel.texts[-1]
    assert fetched == [] and len(fake.requests) == 1
