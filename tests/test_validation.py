"""Validation before spending: the table of what is refused, and with which message."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from bot.errors import InputError
from bot.messages import MESSAGES, render_error
from bot.models import image_model
from bot.types import ImageParams
from bot.validation import check_params, check_prompt, check_size, normalize_size
from tests.helpers import encoded, make_request, png


def refused(key: str, excinfo: pytest.ExceptionInfo[InputError]) -> None:
    assert excinfo.value.message_key == key
    assert key in MESSAGES, f"{key} has no user-facing text"
    for locale in ("en", "zh"):
        text = render_error(excinfo.value, locale)
        assert text and "{" not in text


GPT2 = image_model("gpt-image-2")
GPT15 = image_model("gpt-image-1.5")


@pytest.mark.parametrize(
    "size",
    [
        "auto",
        "1024x1024",
        "1536x1024",
        "1024x1536",
        "2048x2048",
        "2048x1152",
        "3840x2160",
        "2160x3840",
        "1536x864",
        "1024x3072",
        "816x816",
        "3840x1280",
    ],
)
def test_sizes_gpt_image_2_accepts(size: str) -> None:
    assert check_size(size, GPT2) == size


@pytest.mark.parametrize(
    ("size", "key"),
    [
        ("big", "size_invalid"),
        ("1024x", "size_invalid"),
        ("1000x1000", "size_not_multiple_of_16"),
        ("1024x1030", "size_not_multiple_of_16"),
        ("4096x2304", "size_side_too_long"),
        ("3856x1296", "size_side_too_long"),
        ("3840x1264", "size_ratio_too_wide"),
        ("1024x3088", "size_ratio_too_wide"),
        ("800x800", "size_too_few_pixels"),
        ("3840x2176", "size_too_many_pixels"),
        ("0x1024", "size_invalid"),
    ],
)
def test_sizes_gpt_image_2_refuses(size: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        check_size(size, GPT2)
    refused(key, caught)


def test_sizes_of_older_models_are_the_presets() -> None:
    assert check_size("1536x1024", GPT15) == "1536x1024"
    with pytest.raises(InputError) as caught:
        check_size("2048x1152", GPT15)
    refused("size_not_supported", caught)
    assert "1536x1024" in caught.value.params["allowed"]


def test_size_spellings() -> None:
    assert normalize_size(" 1536×1024 ") == "1536x1024"
    assert normalize_size("1536X1024") == "1536x1024"
    assert normalize_size("1536*1024") == "1536x1024"
    assert normalize_size("AUTO") == "auto"


def test_prompt_limits() -> None:
    assert check_prompt("  a cat  ") == "a cat"
    assert len(check_prompt("x" * 32_000)) == 32_000
    with pytest.raises(InputError) as caught:
        check_prompt("x" * 32_001)
    refused("prompt_too_long", caught)
    assert caught.value.params == {"length": 32_001, "limit": 32_000}
    with pytest.raises(InputError) as caught:
        check_prompt(" \n ")
    refused("prompt_empty", caught)


@pytest.mark.parametrize(
    ("params", "model", "backend", "key"),
    [
        (ImageParams(quality="ultra"), "gpt-image-2", "images", "quality_invalid"),
        (ImageParams(output_format="gif"), "gpt-image-2", "images", "output_format_invalid"),
        (
            ImageParams(output_format="jpeg", output_compression=0),
            "gpt-image-2",
            "images",
            "compression_invalid",
        ),
        (
            ImageParams(output_format="webp", output_compression=101),
            "gpt-image-2",
            "images",
            "compression_invalid",
        ),
        (ImageParams(output_compression=80), "gpt-image-2", "images", "compression_needs_lossy"),
        (ImageParams(moderation="none"), "gpt-image-2", "images", "moderation_invalid"),
        (ImageParams(n=0), "gpt-image-2", "images", "n_invalid"),
        (ImageParams(n=11), "gpt-image-2", "images", "n_invalid"),
        (ImageParams(n=2), "gpt-image-2", "responses", "n_not_supported"),
        (ImageParams(background="glass"), "gpt-image-2", "images", "background_invalid"),
        (
            ImageParams(background="transparent"),
            "gpt-image-2",
            "images",
            "background_transparent_unsupported",
        ),
        (
            ImageParams(background="transparent", output_format="jpeg"),
            "gpt-image-1.5",
            "images",
            "background_transparent_format",
        ),
        (ImageParams(input_fidelity="high"), "gpt-image-2", "images", "input_fidelity_unsupported"),
        (ImageParams(input_fidelity="max"), "gpt-image-1.5", "images", "input_fidelity_invalid"),
        (ImageParams(input_fidelity="high"), "gpt-image-1-mini", "images", "input_fidelity_unsupported"),
    ],
)
def test_parameters_refused(params: ImageParams, model: str, backend: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        check_params(params, model, backend)
    refused(key, caught)


def test_parameters_accepted() -> None:
    checked = check_params(
        ImageParams(size="1536×864", output_format="webp", output_compression=70, n=4), "gpt-image-2"
    )
    assert checked.size == "1536x864"
    older = ImageParams(background="transparent", input_fidelity="high", output_format="webp")
    assert check_params(older, "gpt-image-1.5") == older


async def test_too_many_images() -> None:
    with pytest.raises(InputError) as caught:
        await make_request("x", images=[png()] * 17)
    refused("too_many_images", caught)
    with pytest.raises(InputError) as caught:
        await make_request("x", images=[png()] * 16, parent_images=1)
    refused("too_many_images", caught)
    assert len((await make_request("x", images=[png()] * 15, parent_images=1)).images) == 15


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size but holds no pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(1 + width * 3))  # one row; a real bomb carries all of them
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"", "image_empty"),
        (b"%PDF-1.7 definitely not a picture", "image_unreadable"),
        (png("red", (256, 256))[:-40], "image_unreadable"),
        (png_header(9000, 8000), "image_too_many_pixels"),
        (png_header(30000, 30000), "image_too_many_pixels"),
    ],
)
async def test_bad_images(data: bytes, key: str) -> None:
    with pytest.raises(InputError) as caught:
        await make_request("x", images=[png(), data])
    refused(key, caught)
    assert caught.value.params.get("index") in (2, None)


async def test_pixel_limit_message_names_the_size() -> None:
    for header, megapixels in ((png_header(9000, 8000), 72), (png_header(30000, 30000), 900)):
        with pytest.raises(InputError) as caught:
            await make_request("x", images=[header])
        assert f"{megapixels} megapixels" in render_error(caught.value)


async def test_image_over_50_mb() -> None:
    with pytest.raises(InputError) as caught:
        await make_request("x", images=[b"\x89PNG" + bytes(50 * 1024 * 1024)])
    refused("image_too_big", caught)


async def test_formats_pass_through_or_convert() -> None:
    rgb = Image.new("RGB", (40, 30), (200, 10, 10))
    jpeg = encoded(rgb, "JPEG")
    webp = encoded(rgb, "WEBP")
    frames = [Image.new("P", (40, 30), i) for i in range(3)]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    bmp = encoded(rgb, "BMP")
    request = await make_request("x", images=[png(), jpeg, webp, gif, bmp])
    mimes = [image.mime for image in request.images]
    assert mimes == ["image/png", "image/jpeg", "image/webp", "image/png", "image/png"]
    assert request.images[1].data == jpeg  # accepted formats are sent untouched
    assert (request.images[3].width, request.images[3].height) == (40, 30)


async def test_heic_is_converted() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_pillow(Image.new("RGB", (64, 48), (10, 200, 10)))
    buffer = io.BytesIO()
    heif.save(buffer, format="HEIF")
    request = await make_request("x", images=[buffer.getvalue()])
    assert request.images[0].mime == "image/png" and request.images[0].width == 64


def mask_image(size: tuple[int, int] = (64, 64), hole: bool = True, mode: str = "RGBA") -> Image.Image:
    mask = Image.new(mode, size, (0, 0, 0, 255) if mode == "RGBA" else (0, 0, 0))
    if hole:
        mask.paste((0, 0, 0, 0) if mode == "RGBA" else (255, 255, 255), (0, 0, 8, 8))
    return mask


@pytest.mark.parametrize(
    ("mask", "key"),
    [
        (encoded(mask_image().convert("RGB"), "JPEG"), "mask_not_png"),
        (encoded(mask_image(mode="RGB"), "PNG"), "mask_no_alpha"),
        (encoded(mask_image(hole=False), "PNG"), "region_nothing_marked"),
        (encoded(mask_image((32, 32)), "PNG"), "mask_size_mismatch"),
    ],
)
async def test_bad_masks(mask: bytes, key: str) -> None:
    with pytest.raises(InputError) as caught:
        await make_request("x", images=[png(size=(64, 64))], mask=mask)
    refused(key, caught)


async def test_mask_needs_an_image_and_a_good_one_passes() -> None:
    good = encoded(mask_image(), "PNG")
    # The chat backend takes masks too: it sends the area highlighted instead.
    on_chat = await make_request(
        "x", images=[png(size=(64, 64))], mask=good, backend="chat", model="gpt-image-2-all"
    )
    assert on_chat.mask is not None and on_chat.mask_base == on_chat.images[0]
    with pytest.raises(InputError) as caught:
        await make_request("x", mask=good)
    refused("mask_without_image", caught)
    request = await make_request("x", images=[png(size=(64, 64))], mask=good)
    assert request.mask is not None and request.mask.mime == "image/png"
