"""Decompression bombs and heavy decodes: pixels are counted from the header before
anything is decoded, decodes share a pool and a memory budget, and one user's uploads
cannot fill the queue. The real backends against the fake provider."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from bot.backends.chat import ChatBackend
from bot.backends.http import UpstreamClient
from bot.backends.images import ImagesBackend
from bot.backends.responses import ResponsesBackend
from bot.blobs import MemoryBlobStore
from bot.errors import InputError, OutputTooLarge
from bot.images import imaging, offload
from bot.images.offload import MAX_OVERTAKES, PixelBudget
from bot.messages import render_error
from tests.fakes.openai_server import COLOURS, FakeOpenAI, bomb_png
from tests.helpers import PartialCollector, colour_name, make_request, png

TIFF_SIZE = (6000, 5000)  # 30 MP: under the input limit, and seconds of work to convert


@pytest.fixture(scope="module")
def big_tiff() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", TIFF_SIZE, COLOURS["green"]).save(buffer, "TIFF", compression="tiff_lzw")
    return buffer.getvalue()


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


# --- heavy decodes ----------------------------------------------------------------------


async def test_heavy_uploads_do_not_hold_up_another_chats_picture(
    images: ImagesBackend, big_tiff: bytes
) -> None:
    """Three chats convert 30 MP TIFFs while another chat draws: its picture arrives
    before any conversion is done (a thread stays free for it), and the conversions
    never held more pixels at once than the budget."""
    offload.DECODE_BUDGET.peak = offload.DECODE_BUDGET.held
    uploads = [
        asyncio.create_task(make_request("restyle it", images=[big_tiff], user_id=f"user-{index}"))
        for index in range(3)
    ]
    await asyncio.sleep(0)  # the uploads are queued first, as in the report
    picture = await images.run(await make_request("a red kite", user_id="someone-else"))
    pending = sum(not upload.done() for upload in uploads)
    prepared = await asyncio.gather(*uploads)

    assert colour_name(picture.images[0].data) == "red"
    assert pending == 3
    assert all(request.images[0].mime == "image/png" for request in prepared)
    pixels = TIFF_SIZE[0] * TIFF_SIZE[1]
    assert pixels <= offload.DECODE_BUDGET.peak <= offload.DECODE_BUDGET.capacity < 3 * pixels


async def test_one_users_queue_of_image_work_is_capped() -> None:
    photo = png("blue")
    attempts = [
        make_request("fuse", images=[photo], user_id="greedy") for _ in range(offload.MAX_QUEUED_PER_USER + 1)
    ]
    others = make_request("fuse", images=[photo], user_id="patient")
    *results, other = await asyncio.gather(*attempts, others, return_exceptions=True)

    refused = [result for result in results if isinstance(result, InputError)]
    assert len(refused) == 1 and refused[0].message_key == "image_queue_full"
    assert not isinstance(other, BaseException)
    for locale in ("en", "zh"):
        assert str(offload.MAX_QUEUED_PER_USER) in render_error(refused[0], locale)
    # The queue empties as the work finishes.
    assert (await make_request("fuse", images=[photo], user_id="greedy")).images


async def test_decodes_are_weighed_by_their_header() -> None:
    assert offload.DECODE_BUDGET.held == 0
    assert imaging.header_pixels(bomb_png(30000, 30000)) == 900_000_000
    assert imaging.header_pixels(b"not a picture") == 0


# --- the budget itself --------------------------------------------------------------------


async def test_small_work_may_pass_big_work_that_does_not_fit_but_not_for_ever() -> None:
    budget = PixelBudget(10)
    order: list[str] = []

    async def work(name: str, pixels: int, release: asyncio.Event) -> None:
        async with budget.hold(pixels):
            order.append(name)
            await release.wait()

    first = asyncio.Event()
    holder = asyncio.create_task(work("holder", 8, first))
    await asyncio.sleep(0)
    big = asyncio.create_task(work("big", 10, asyncio.Event()))
    await asyncio.sleep(0)
    small_done = [asyncio.Event() for _ in range(MAX_OVERTAKES + 1)]
    smalls = []
    for index, done in enumerate(small_done):
        smalls.append(asyncio.create_task(work(f"small-{index}", 2, done)))
        await asyncio.sleep(0)
        done.set()  # each small one finishes at once, making room for the next
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    # MAX_OVERTAKES small ones passed the big one; the next waits behind it.
    assert order == ["holder", *(f"small-{index}" for index in range(MAX_OVERTAKES))]
    async with budget.hold(0):  # work with nothing to hold passes even now
        order.append("weightless")
    first.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert order[-1] == "big" and budget.held == 10
    big.cancel()
    await asyncio.gather(big, return_exceptions=True)
    await asyncio.gather(holder, *smalls)
    assert order[-1] == f"small-{MAX_OVERTAKES}" and budget.held == 0


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n0 0 moveto 64 64 lineto stroke\n%%EOF\n"


def test_only_picture_formats_are_ever_opened() -> None:
    # Pillow knows PostScript (and hands it to Ghostscript): from a user it is no picture.
    with Image.open(io.BytesIO(EPS)) as opened:
        assert opened.format == "EPS"  # what Pillow would do if asked freely
    with pytest.raises(InputError) as caught:
        imaging.prepare_input(EPS)
    assert caught.value.message_key == "image_unreadable"
    assert imaging.header_pixels(EPS) == 0
    assert imaging.prepare_input(png("red")).data[:4] == b"\x89PNG"
