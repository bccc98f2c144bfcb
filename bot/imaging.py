"""Image and base64 work. Everything here is synchronous and CPU-bound: callers run
it in a worker thread (``asyncio.to_thread``), never on the event loop.

Big base64 payloads are converted in slices: one C call on a 4K image holds the
GIL for ~50 ms, which would stall the event loop even from another thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, UnidentifiedImageError

from bot.errors import InputError, MalformedResponse
from bot.types import PreparedImage

try:  # HEIC/HEIF photos from phones; the plugin is a regular dependency but stay usable without it.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the platform's wheels
    HEIF_SUPPORTED = False

MAX_INPUT_BYTES = 50 * 1024 * 1024
MAX_MASK_BYTES = 4 * 1024 * 1024
# Decompression-bomb guard: beyond this an input is refused before it is decoded.
MAX_INPUT_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_INPUT_PIXELS

_PASSTHROUGH = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "WEBP": "image/webp"}
_B64_SLICE = 1 << 20  # characters per slice; a multiple of 4
_RAW_SLICE = 3 * (1 << 18)  # bytes per slice when encoding; a multiple of 3


def sniff_mime(data: bytes | memoryview) -> str | None:
    """The image type from its magic bytes: cheap enough for the event loop."""
    head = bytes(data[:16])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def b64decode_sliced(text: str | bytes | memoryview) -> bytes:
    """Strict base64 decode (``data:`` prefix tolerated) in GIL-friendly slices."""
    view = memoryview(text.encode("ascii") if isinstance(text, str) else text)
    if bytes(view[:5]) == b"data:":
        comma = bytes(view[:256]).find(b",")
        view = view[comma + 1 :] if comma >= 0 else view
    if len(view) % 4:
        raise MalformedResponse("base64 image data has a truncated length")
    out = bytearray()
    try:
        for start in range(0, len(view), _B64_SLICE):
            out += binascii.a2b_base64(view[start : start + _B64_SLICE], strict_mode=True)
    except binascii.Error as exc:
        raise MalformedResponse(f"invalid base64 image data: {exc}") from None
    return bytes(out)


def b64encode_sliced(data: bytes) -> bytes:
    view = memoryview(data)
    return b"".join(base64.b64encode(view[i : i + _RAW_SLICE]) for i in range(0, len(view), _RAW_SLICE))


def data_url(data: bytes, mime: str) -> bytes:
    return b"data:" + mime.encode() + b";base64," + b64encode_sliced(data)


@dataclass(frozen=True)
class ImageInfo:
    mime: str
    width: int
    height: int
    sha256: str


def inspect_output(data: bytes) -> ImageInfo:
    """Check a provider's image fully decodes (catches truncation) and describe it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            width, height = image.size
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MalformedResponse(f"the returned image does not decode: {exc}") from None
    mime = _PASSTHROUGH.get(fmt) or Image.MIME.get(fmt) or "application/octet-stream"
    return ImageInfo(mime, width, height, hashlib.sha256(data).hexdigest())


def decode_output(b64: str | bytes | memoryview) -> tuple[bytes, ImageInfo]:
    data = b64decode_sliced(b64)
    return data, inspect_output(data)


def prepare_input(data: bytes, index: int = 1) -> PreparedImage:
    """Sniff one user image with Pillow; convert what the provider won't take.

    PNG, JPEG and WebP pass through untouched; GIF (first frame), HEIC, BMP,
    TIFF and animated images become PNG. Raises InputError with a message key.
    """
    if not data:
        raise InputError("empty image", key="image_empty", index=index)
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(
            "image too big",
            key="image_too_big",
            index=index,
            size_mb=round(len(data) / 1048576, 1),
            limit_mb=MAX_INPUT_BYTES // 1048576,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                width, height = image.size
                if width * height > MAX_INPUT_PIXELS:
                    raise InputError(
                        "too many pixels",
                        key="image_too_many_pixels",
                        index=index,
                        width=width,
                        height=height,
                    )
                animated = bool(getattr(image, "is_animated", False))
                if fmt in _PASSTHROUGH and not animated:
                    image.load()  # a truncated upload would only fail upstream, after paying
                    return PreparedImage(
                        data, _PASSTHROUGH[fmt], width, height, hashlib.sha256(data).hexdigest()
                    )
                image.seek(0)
                png = _to_png(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            "decompression bomb", key="image_too_many_pixels", index=index, width="?", height="?"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"unreadable image: {exc}", key="image_unreadable", index=index) from None
    return PreparedImage(png, "image/png", width, height, hashlib.sha256(png).hexdigest())


def _to_png(image: Image.Image) -> bytes:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    converted = image.convert("RGBA" if has_alpha else "RGB")
    buffer = io.BytesIO()
    converted.save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def prepare_mask(data: bytes, first: PreparedImage) -> PreparedImage:
    """A mask must be a PNG with alpha, with a transparent area, the first image's size."""
    if len(data) > MAX_MASK_BYTES:
        raise InputError(
            "mask too big",
            key="mask_too_big",
            size_mb=round(len(data) / 1048576, 1),
            limit_mb=MAX_MASK_BYTES // 1048576,
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or "unknown"
            if fmt != "PNG":
                raise InputError("mask not png", key="mask_not_png", format=fmt)
            if image.size != (first.width, first.height):
                raise InputError(
                    "mask size mismatch",
                    key="mask_size_mismatch",
                    mask_size=f"{image.width}x{image.height}",
                    image_size=f"{first.width}x{first.height}",
                )
            if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
                raise InputError("mask without alpha", key="mask_no_alpha")
            alpha = image.convert("RGBA").getchannel("A")
            if alpha.getextrema()[0] != 0:
                raise InputError("mask fully opaque", key="mask_no_transparent_area")
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"unreadable mask: {exc}", key="image_unreadable", index="mask") from None
    return PreparedImage(data, "image/png", width, height, hashlib.sha256(data).hexdigest())


# Truncated uploads are an error, never silently padded.
ImageFile.LOAD_TRUNCATED_IMAGES = False
