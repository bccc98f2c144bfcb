"""The pictures of a region edit: the grid a user chooses cells on, and the picture with
its area to change highlighted (what the chat proxy, which takes no mask, is sent).

Synchronous and CPU-bound: run them with :func:`bot.offload.run_cpu` (they are
:func:`~bot.offload.weighed`), never on the event loop.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from bot import fonts, imaging, regions
from bot.errors import InputError
from bot.offload import weighed

# The grid picture's longest side: sharp on a phone, far under Telegram's photo limits
# (10 MB, width + height ≤ 10000) and Discord's 10 MiB.
OVERLAY_SIDE = 1280
# Smaller pictures are scaled up to this, so the labels stay readable.
OVERLAY_MIN_SIDE = 640
OVERLAY_QUALITY = 85
# The highlighted reference sent to the chat proxy: big enough to see the area.
HIGHLIGHT_SIDE = 1536
HIGHLIGHT_QUALITY = 90
TINT = (255, 64, 160)  # a magenta that few pictures are made of
TINT_ALPHA = 110
LINE = (255, 255, 255)
SHADOW = (0, 0, 0)


def _picture_pixels(image: bytes, *_: object) -> int:
    return imaging.header_pixels(image)


def _open_rgb(data: bytes) -> Image.Image:
    """The picture as RGB (transparency on white, as chats show it). Refuses what
    :func:`bot.imaging.prepare_input` would (bombs, broken files) with InputError."""
    pixels = imaging.header_pixels(data)
    if pixels > imaging.MAX_INPUT_PIXELS:
        raise InputError(
            "too many pixels",
            key="image_too_many_pixels",
            index=1,
            megapixels=round(pixels / 1e6),
            limit=imaging.MAX_INPUT_PIXELS // 1_000_000,
        )
    try:
        with imaging.open_image(data) as image:
            image.load()
            rgba = image.convert("RGBA")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"unreadable picture: {exc}", key="image_unreadable", index=1) from None
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _fit(image: Image.Image, longest: int, shortest_longest: int = 0) -> Image.Image:
    side = max(image.size)
    target = longest if side > longest else shortest_longest if side < shortest_longest else side
    if target == side:
        return image
    scale = target / side
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


@weighed(_picture_pixels)
def grid_overlay(image: bytes, chosen: Iterable[int] = ()) -> bytes:
    """A JPEG of ``image`` (longest side :data:`OVERLAY_SIDE`, or scaled up to
    :data:`OVERLAY_MIN_SIDE`) with the labelled grid over it and the chosen cells tinted."""
    picked = regions.cells(chosen)
    picture = _fit(_open_rgb(image), OVERLAY_SIDE, OVERLAY_MIN_SIDE).convert("RGBA")
    width, height = picture.size
    layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for index in picked:
        draw.rectangle(_inclusive(regions.cell_box(index, width, height)), fill=(*TINT, TINT_ALPHA))
    line = max(2, min(width, height) // 320)
    for column in range(1, regions.COLUMNS):
        x = column * width // regions.COLUMNS
        draw.line([(x, 0), (x, height)], fill=(*SHADOW, 140), width=line + 2)
        draw.line([(x, 0), (x, height)], fill=(*LINE, 230), width=line)
    for row in range(1, regions.ROWS):
        y = row * height // regions.ROWS
        draw.line([(0, y), (width, y)], fill=(*SHADOW, 140), width=line + 2)
        draw.line([(0, y), (width, y)], fill=(*LINE, 230), width=line)
    cell_side = min(width // regions.COLUMNS, height // regions.ROWS)
    size = max(10, cell_side // 5)
    font = fonts.font_for("ABCD1234✓", size)
    for index in range(regions.CELL_COUNT):
        left, top, _, _ = regions.cell_box(index, width, height)
        label = regions.cell_label(index) + (" ✓" if index in picked else "")
        label = fonts.printable(label, font)
        pad = max(2, size // 4)
        box = draw.textbbox((left + 2 * pad, top + 2 * pad), label, font=font)
        fill = (*TINT, 235) if index in picked else (*SHADOW, 170)
        draw.rounded_rectangle(
            (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), radius=pad, fill=fill
        )
        draw.text((left + 2 * pad, top + 2 * pad), label, font=font, fill=(*LINE, 255))
    return _jpeg(Image.alpha_composite(picture, layer).convert("RGB"), OVERLAY_QUALITY)


def _inclusive(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return left, top, max(left, right - 1), max(top, bottom - 1)


def _picture_and_mask_pixels(image: bytes, mask: bytes) -> int:
    return 2 * imaging.header_pixels(image)


@weighed(_picture_and_mask_pixels)
def highlight_region(image: bytes, mask: bytes) -> bytes:
    """A JPEG of ``image`` (longest side at most :data:`HIGHLIGHT_SIDE`) with the area
    ``mask`` marks to change (alpha 0) tinted and outlined: the reference picture for a
    backend that takes no mask. ``mask`` must be ``image``'s size (ValueError)."""
    picture = _open_rgb(image)
    with Image.open(io.BytesIO(mask), formats=("PNG",)) as opened:
        if opened.size != picture.size:
            raise ValueError(f"the mask is {opened.size}, the picture {picture.size}")
        alpha = opened.convert("RGBA").getchannel("A")
    picture = _fit(picture, HIGHLIGHT_SIDE)
    if alpha.size != picture.size:
        alpha = alpha.resize(picture.size, Image.Resampling.BOX)
    # Change where the mask is (nearly) fully transparent.
    area = alpha.point([255 if value < 8 else 0 for value in range(256)])
    thickness = max(2, min(picture.size) // 200)
    grown = area.filter(ImageFilter.BoxBlur(thickness)).point([255 if v else 0 for v in range(256)])
    outline = ImageChops.subtract(grown, area)
    tint = Image.new("RGB", picture.size, TINT)
    tinted = Image.blend(picture, tint, TINT_ALPHA / 255)
    picture.paste(tinted, mask=area)
    picture.paste(tint, mask=outline)
    return _jpeg(picture, HIGHLIGHT_QUALITY)
