"""Decompression bombs: pixels are counted from the header before anything is
decoded. The real backends against the fake provider."""

from __future__ import annotations

import pytest

from bot.backends.chat import ChatBackend
from bot.backends.http import UpstreamClient
from bot.backends.images import ImagesBackend
from bot.backends.responses import ResponsesBackend
from bot.blobs import MemoryBlobStore
from bot.errors import InputError, OutputTooLarge
from bot.messages import render_error
from tests.fakes.openai_server import FakeOpenAI, bomb_png
from tests.helpers import PartialCollector, make_request, png


@pytest.fixture
def images(client: UpstreamClient, blobs: MemoryBlobStore) -> ImagesBackend:
    return ImagesBackend(client, blobs, ["gpt-image-2"])


# --- a provider's bomb ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "megapixels"),
    [
        ((12000, 12000), 144),  # over Pillow's own bomb limit: it raised, uncaught
        ((10000, 9000), 90),  # between 64 and 128 MP: Pillow only warned, and it was decoded in full
    ],
)
async def test_a_provider_bomb_is_refused_unread(
    images: ImagesBackend, fake: FakeOpenAI, size: tuple[int, int], megapixels: int
) -> None:
    fake.fixed_png = bomb_png(*size)
    with pytest.raises(OutputTooLarge) as caught:
        await images.run(await make_request("a red kite"))
    assert f"{megapixels} megapixels" in render_error(caught.value, "en")
    assert f"{megapixels} 百万像素" in render_error(caught.value, "zh")


@pytest.mark.parametrize("backend", ["images", "responses"])
async def test_a_bomb_in_a_preview_is_not_shown(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI, backend: str
) -> None:
    fake.fixed_png = bomb_png(10000, 9000)
    kind = ImagesBackend if backend == "images" else ResponsesBackend
    previews = PartialCollector()
    with pytest.raises(OutputTooLarge):
        await kind(client, blobs, ["gpt-image-2"], partial_images=2).run(
            await make_request("a red kite"), on_partial=previews
        )
    assert fake.last().json["stream"] is True
    assert previews.partials == []


async def test_a_bomb_behind_a_link_is_refused(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    fake.chat_content = f"![image]({fake.file_url('big.png', bomb_png(10000, 9000))})"
    with pytest.raises(OutputTooLarge):
        await ChatBackend(client, blobs, ["gpt-image-2-all"]).run(
            await make_request("a cat", model="gpt-image-2-all", backend="chat")
        )


async def test_a_large_picture_under_the_output_limit_is_accepted(
    images: ImagesBackend, fake: FakeOpenAI
) -> None:
    fake.fixed_png = bomb_png(4096, 4096)
    result = await images.run(await make_request("a red kite"))
    assert (result.images[0].width, result.images[0].height) == (4096, 4096)


async def test_a_mask_bomb_is_explained() -> None:
    with pytest.raises(InputError) as caught:
        await make_request("fix it", images=[png("blue")], mask=bomb_png(30000, 30000))
    assert caught.value.message_key == "image_too_many_pixels"
    assert "900 megapixels" in render_error(caught.value, "en")
