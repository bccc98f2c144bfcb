"""Region edits on each backend, over real HTTP against the fake provider: a child of a
bot picture with a mask made from grid cells (or painted), usually with no upload."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image, ImageChops

from bot import regions
from bot.backends.base import BaseBackend
from bot.backends.chat import REGION_INSTRUCTION, ChatBackend
from bot.backends.http import UpstreamClient
from bot.backends.images import ImagesBackend
from bot.backends.responses import ResponsesBackend
from bot.blobs import MemoryBlobStore
from bot.errors import InputError
from bot.offload import run_cpu
from bot.types import ImageParams, ImageRequest, TurnResult
from bot.validation import prepare_region_request
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, encoded, make_request, parent_of, png

CHOSEN = {5, 6, 10}  # B2, C2, C3: an L, with a corner the feather must not fill
MODELS = {"images": "gpt-image-2", "responses": "gpt-image-2", "chat": "gpt-image-2-all"}


def make_backend(name: str, client: UpstreamClient, blobs: MemoryBlobStore) -> BaseBackend:
    if name == "images":
        return ImagesBackend(client, blobs, [MODELS[name]])
    if name == "responses":
        return ResponsesBackend(client, blobs, [MODELS[name]], mainline_model="gpt-5")
    return ChatBackend(client, blobs, [MODELS[name]])


async def region_request(
    name: str, prompt: str, picture: bytes, mask: bytes, *, images: list[bytes] | None = None
) -> ImageRequest:
    return await prepare_region_request(
        prompt,
        ImageParams(),
        model=MODELS[name],
        backend=name,
        mask=mask,
        mask_base=picture,
        images=images or [],
        user_id="user-42",
    )


async def first_picture(name: str, backend: BaseBackend, size: str = "1536x1024") -> TurnResult:
    params: dict[str, Any] = {} if name == "chat" else {"size": size}
    return await backend.run(await make_request("a blue lake", model=MODELS[name], backend=name, **params))


def transparent_area(mask: bytes) -> Image.Image:
    with Image.open(io.BytesIO(mask)) as image:
        assert image.format == "PNG"
        alpha = image.convert("RGBA").getchannel("A")
    return alpha.point([255 if value == 0 else 0 for value in range(256)])


def assert_exactly_the_cells(mask: bytes, size: tuple[int, int], chosen: set[int]) -> None:
    """The mask's fully transparent pixels are the chosen cells, no more, no less; partly
    transparent ones lie within the documented feather band."""
    width, height = size
    expected = Image.new("L", size, 0)
    band = Image.new("L", size, 0)
    feather = regions.default_feather(width, height)
    for index in chosen:
        row, column = divmod(index, 4)
        box = (column * width // 4, row * height // 4, (column + 1) * width // 4, (row + 1) * height // 4)
        expected.paste(255, box)
        band.paste(255, (box[0] - feather, box[1] - feather, box[2] + feather, box[3] + feather))
    area = transparent_area(mask)
    assert area.size == size
    assert ImageChops.difference(area, expected).getbbox() is None
    with Image.open(io.BytesIO(mask)) as image:
        alpha = image.convert("RGBA").getchannel("A")
    partial = alpha.point([255 if 0 < value < 255 else 0 for value in range(256)])
    assert ImageChops.subtract(partial, band).getbbox() is None


def data_url_bytes(url: str) -> bytes:
    return base64.b64decode(url.split(",", 1)[1])


async def test_images_sends_the_parent_picture_first_and_the_cells_as_the_mask(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    backend = make_backend("images", client, blobs)
    first = await first_picture("images", backend)
    picture = first.images[0].data
    mask = await run_cpu(regions.mask_from_cells, 1536, 1024, CHOSEN)
    result = await backend.run(await region_request("images", "a red boat", picture, mask), parent_of(first))

    sent = fake.last("/images/edits")
    assert [f.name for f in sent.files] == ["image[]", "mask"]
    assert sent.input_image_hashes() == [first.images[0].blob_id]  # the parent's picture, once
    assert sent.field_values["prompt"] == "a red boat"
    assert_exactly_the_cells(sent.files[1].data, (1536, 1024), CHOSEN)
    assert colour_name(result.images[0].data) == "red"


async def test_images_puts_the_masked_picture_before_new_uploads(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    backend = make_backend("images", client, blobs)
    first = await first_picture("images", backend, size="1024x1024")
    mask = await run_cpu(regions.mask_from_cells, 1024, 1024, {0})
    hat = png("pink")
    request = await region_request("images", "put this hat there", first.images[0].data, mask, images=[hat])
    await backend.run(request, parent_of(first))

    hashes = fake.last("/images/edits").input_image_hashes()
    assert hashes[0] == first.images[0].blob_id and len(hashes) == 2


async def test_responses_adds_the_parent_picture_to_the_input_despite_the_previous_response(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    backend = make_backend("responses", client, blobs)
    first = await first_picture("responses", backend)
    mask = await run_cpu(regions.mask_from_cells, 1536, 1024, CHOSEN)
    await backend.run(
        await region_request("responses", "a red boat", first.images[0].data, mask), parent_of(first)
    )

    sent = fake.last("/responses").json
    assert sent["previous_response_id"] == first.state["response_id"]
    content = sent["input"][0]["content"]
    assert [part["type"] for part in content] == ["input_text", "input_image"]
    assert fake.last().input_image_hashes() == [first.images[0].blob_id]
    sent_mask = data_url_bytes(sent["tools"][0]["input_image_mask"]["image_url"])
    assert_exactly_the_cells(sent_mask, (1536, 1024), CHOSEN)


async def test_responses_region_edit_of_an_expired_response_sends_the_picture_once(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    backend = make_backend("responses", client, blobs)
    first = await first_picture("responses", backend)
    fake.forget_responses()
    mask = await run_cpu(regions.mask_from_cells, 1536, 1024, {15})
    await backend.run(
        await region_request("responses", "a red boat", first.images[0].data, mask), parent_of(first)
    )

    assert "previous_response_id" not in fake.last("/responses").json
    assert fake.last().input_image_hashes() == [first.images[0].blob_id]


async def test_chat_sends_the_picture_then_the_highlight_and_says_what_to_change(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    backend = make_backend("chat", client, blobs)
    first = await first_picture("chat", backend)  # the fake draws 1024x1024 blue
    picture = first.images[0].data
    mask = await run_cpu(regions.mask_from_cells, 1024, 1024, {0}, feather_px=0)
    result = await backend.run(await region_request("chat", "a red boat", picture, mask), parent_of(first))

    sent = fake.last("/chat/completions").json
    assert set(sent) == {"model", "messages"}  # no mask field: the model takes none
    parts = sent["messages"][-1]["content"]
    assert [part["type"] for part in parts] == ["image_url", "image_url", "text"]
    assert data_url_bytes(parts[0]["image_url"]["url"]) == picture
    highlight = Image.open(io.BytesIO(data_url_bytes(parts[1]["image_url"]["url"])))
    assert highlight.size == (1024, 1024)
    inside, outside = (
        highlight.convert("RGB").getpixel((128, 128)),
        highlight.convert("RGB").getpixel((700, 700)),
    )
    assert isinstance(inside, tuple) and isinstance(outside, tuple)
    assert colour_name(picture) == "blue" and abs(outside[0] - 30) < 12 and inside[0] > 100
    assert parts[2]["text"] == REGION_INSTRUCTION.format(prompt="a red boat")
    assert colour_name(result.images[0].data) == "red"
    # The history keeps the user's words and the real pictures, not the instruction.
    said = result.state["messages"][-2]["content"]
    assert said[-1] == {"type": "text", "text": "a red boat"}
    assert [part["blob"] for part in said if part["type"] == "image"] == [first.images[0].blob_id]


@pytest.mark.parametrize("name", ["images", "responses", "chat"])
@pytest.mark.parametrize(
    ("hole", "key"),
    [
        (None, "region_nothing_marked"),
        ((0, 0, 1024, 1024), "region_everything_marked"),
        ((5, 5, 15, 15), "region_nothing_marked"),  # 100 px of a megapixel: a stray dot
    ],
)
async def test_masks_marking_nothing_or_everything_cost_nothing(
    name: str, hole: tuple[int, int, int, int] | None, key: str, fake: FakeOpenAI
) -> None:
    picture = png("blue", (1024, 1024))
    painted = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    if hole is not None:
        painted.paste((0, 0, 0, 0), hole)
    before = len(fake.requests)
    with pytest.raises(InputError) as caught:
        await region_request(name, "a red boat", picture, encoded(painted, "PNG"))
    assert caught.value.message_key == key
    assert len(fake.requests) == before


@pytest.mark.parametrize(
    ("mask", "key"),
    [
        (regions.mask_from_cells(512, 512, {0}), "mask_size_mismatch"),
        (encoded(Image.new("RGB", (1024, 1024)), "PNG"), "mask_no_alpha"),
        (encoded(Image.new("RGB", (1024, 1024)), "JPEG"), "mask_not_png"),
        (b"garbage", "image_unreadable"),
    ],
)
async def test_a_bad_mask_is_refused_before_spending(mask: bytes, key: str, fake: FakeOpenAI) -> None:
    with pytest.raises(InputError) as caught:
        await region_request("images", "a red boat", png("blue", (1024, 1024)), mask)
    assert caught.value.message_key == key
    assert fake.requests == []


async def test_a_region_request_counts_the_parent_picture_toward_the_limit() -> None:
    mask = regions.mask_from_cells(64, 64, {0})
    with pytest.raises(InputError) as caught:
        await region_request("images", "x", png("blue"), mask, images=[png("red")] * 16)
    assert caught.value.message_key == "too_many_images"
    with pytest.raises(InputError) as caught:
        await region_request("images", "   ", png("blue"), mask)
    assert caught.value.message_key == "prompt_empty"
