"""Checking a painted mask before it becomes a turn (on the image pool, never the loop)."""

from __future__ import annotations

import io

from PIL import Image

from bot.images.imaging import MAX_MASK_BYTES, prepare_mask
from bot.images.offload import weighed
from bot.images.types import PreparedImage


class MaskCoversEverything(Exception):
    """The painted area is the whole picture: there is nothing to keep."""


def _pixels(data: bytes, width: int, height: int) -> int:
    return width * height if len(data) <= MAX_MASK_BYTES else 0


@weighed(_pixels)
def check_mask(data: bytes, width: int, height: int) -> None:
    """A PNG with alpha, ``width`` x ``height``, transparent somewhere (the area to change)
    and opaque somewhere (what stays). Raises the engine's InputError for the first four,
    whose message is localized, and MaskCoversEverything for the last."""
    prepare_mask(data, PreparedImage(b"", "image/png", width, height, ""))
    with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
        if image.convert("RGBA").getchannel("A").getextrema()[1] == 0:
            raise MaskCoversEverything("the mask is transparent everywhere")
