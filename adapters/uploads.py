"""Pictures and files within a platform's upload limits.

A picture that fits goes as it is, named ``redraw-<n>.<ext>`` (Discord reads the number
back: which of a turn's pictures a message shows); one that does not goes as a JPEG
preview, ``redraw-<n>-preview.jpg``, the original one button away. An original over
the limit goes as the best JPEG that fits, and the message says so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.engine.seams import OutgoingImage
from bot.images import imaging
from bot.images.offload import run_cpu
from bot.images.types import MIME_EXTENSIONS
from bot.messages import render

log = logging.getLogger(__name__)

# (longest side, quality) tried in turn until a JPEG fits; None: the picture's own size.
JpegSteps = tuple[tuple[int | None, int], ...]


async def fitting_jpeg(data: bytes, limit: int, steps: JpegSteps) -> bytes:
    """The largest, best JPEG of ``data`` under ``limit`` bytes (the last step if none is)."""
    jpeg = b""
    for side, quality in steps:
        jpeg = await run_cpu(imaging.jpeg_preview, data, side, quality)
        if len(jpeg) <= limit:
            break
    return jpeg


async def picture_upload(
    image: OutgoingImage, index: int, fits: bool, preview: Callable[[bytes], Awaitable[bytes]]
) -> tuple[bytes, str]:
    """The bytes to upload for the ``index``-th picture, and their file name."""
    if fits:
        extension = MIME_EXTENSIONS.get(image.mime, "png")
        return image.data, f"redraw-{index + 1}.{extension}"
    # Too large for the platform: a JPEG preview (the 📎 Original button sends the file).
    return await preview(image.data), f"redraw-{index + 1}-preview.jpg"


@dataclass(frozen=True)
class Original:
    """An original file as it can be uploaded; ``note``: what the message says of it."""

    data: bytes
    filename: str
    note: str | None = None


async def original_upload(
    data: bytes, filename: str, limit: int, locale: str | None, steps: JpegSteps
) -> Original:
    """``data`` as it is, or, beyond what the platform takes, the best JPEG that fits, saying so."""
    if len(data) <= limit:
        return Original(data, filename)
    log.warning(
        "original %s is %d bytes, over the %d-byte upload limit; sending it as JPEG",
        filename,
        len(data),
        limit,
    )
    note = render("original_too_large", locale, size_mb=f"{len(data) / 2**20:.1f}", limit_mb=limit // 2**20)
    return Original(await fitting_jpeg(data, limit, steps), f"{filename.rsplit('.', 1)[0]}.jpg", note)
