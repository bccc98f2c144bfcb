"""Image and base64 work. Everything here is synchronous and CPU-bound: callers run
it on the image pool (:func:`bot.offload.run_cpu`), never on the event loop.

Base64 goes through pybase64: SIMD-fast, and it releases the GIL, where the
standard library holds it for ~80 ms on a 4K image and so stalls the event loop
even from another thread. Hashing and Pillow's checks release the GIL too.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass

import pybase64
from PIL import Image, ImageFile, UnidentifiedImageError

from bot.errors import InputError, MalformedResponse, OutputTooLarge
from bot.offload import HEAVY_PIXELS, weighed
from bot.types import PreparedImage

# HEIC/HEIF photos from phones: the plugin is loaded the first time one arrives, not at
# start (it is a few MB that most instances never need).
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}
_heif_registered = False


def _open_heif(data: bytes) -> None:
    """Make Pillow able to open ``data`` if it is a HEIF/AVIF file (the ftyp box says so)."""
    global _heif_registered  # noqa: PLW0603 (registered once per process)
    if _heif_registered or data[4:8] != b"ftyp" or data[8:12] not in _HEIF_BRANDS:
        return
    try:
        import pillow_heif  # noqa: PLC0415

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - the plugin is a regular dependency; wheels may lack it
        return
    _heif_registered = True


MAX_INPUT_BYTES = 50 * 1024 * 1024
MAX_MASK_BYTES = 4 * 1024 * 1024
# Decompression-bomb guard: beyond this an input is refused before it is decoded.
MAX_INPUT_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_INPUT_PIXELS
# The largest picture gpt-image-2 draws is 3840x2160 (8.3 MP); twice that (4096x4096)
# leaves room for a proxy that upscales, and refuses a provider's (or a link's) bomb unread.
MAX_OUTPUT_PIXELS = HEAVY_PIXELS

_PASSTHROUGH = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "WEBP": "image/webp"}


# The only formats Pillow may read here, from users or the provider: PostScript, EPS and
# the rest of Pillow's plugins (some hand data to outside programs, like Ghostscript)
# never see hostile bytes.
READ_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "GIF", "HEIF", "AVIF", "BMP", "TIFF")


def _read_formats() -> tuple[str, ...]:
    # Not cached: the HEIF plugin joins the first time a HEIF arrives.
    Image.init()
    return tuple(name for name in READ_FORMATS if name in Image.OPEN)


def _open(data: bytes | memoryview) -> Image.Image:
    _open_heif(bytes(data[:12]))
    return Image.open(io.BytesIO(data), formats=_read_formats())


def open_image(data: bytes | memoryview) -> Image.Image:
    """Open ``data`` lazily (header only) as one of :data:`READ_FORMATS`; use as a context."""
    return _open(data)


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


def describe(data: bytes) -> tuple[str, int, int]:
    """(mime, width, height) from the header only: cheap enough for the event loop."""
    with _open(data) as image:
        fmt = image.format or ""
        mime = _PASSTHROUGH.get(fmt) or Image.MIME.get(fmt) or "application/octet-stream"
        return mime, image.width, image.height


def header_pixels(data: bytes | memoryview) -> int:
    """Width x height from the header, without decoding; 0 when it cannot be read. A bomb
    Pillow refuses to open still reports its count."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(data) as image:
                return int(image.width * image.height)
    except Image.DecompressionBombError as exc:
        return _bomb_pixels(exc)
    except Exception:  # whatever Pillow raises on garbage: the decode itself will say
        return 0


def _bomb_pixels(exc: Exception) -> int:
    # Pillow refuses before we see the size; its message carries the pixel count.
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return int(found.group(1)) if found else 0


def b64decode_image(text: str | bytes | memoryview) -> bytes:
    """Strict base64 decode (a ``data:`` prefix is tolerated)."""
    view = memoryview(text.encode("ascii") if isinstance(text, str) else text)
    if bytes(view[:5]) == b"data:":
        comma = bytes(view[:256]).find(b",")
        view = view[comma + 1 :] if comma >= 0 else view
    if len(view) % 4:
        raise MalformedResponse("base64 image data has a truncated length")
    try:
        return pybase64.b64decode(view, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedResponse(f"invalid base64 image data: {exc}") from None


def data_url(data: bytes, mime: str) -> bytes:
    return b"data:" + mime.encode() + b";base64," + pybase64.b64encode(data)


@dataclass(frozen=True)
class ImageInfo:
    mime: str
    width: int
    height: int
    sha256: str


def inspect_output(data: bytes) -> ImageInfo:
    """Check a provider's image is whole (truncation is the usual failure) and not a bomb,
    and describe it. Reads the header and the chunk checksums, never the pixels."""
    pixels = header_pixels(data)
    if pixels > MAX_OUTPUT_PIXELS:
        raise OutputTooLarge(
            f"the returned image has {pixels} pixels, over the {MAX_OUTPUT_PIXELS} limit",
            megapixels=round(pixels / 1e6),
            limit=round(MAX_OUTPUT_PIXELS / 1e6),
        )
    try:
        with _open(data) as image:
            fmt = image.format or ""
            width, height = image.size
            check_whole(image, data)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MalformedResponse(f"the returned image is broken: {exc}") from None
    mime = _PASSTHROUGH.get(fmt) or Image.MIME.get(fmt) or "application/octet-stream"
    return ImageInfo(mime, width, height, hashlib.sha256(data).hexdigest())


def check_whole(image: Image.Image, data: bytes) -> None:
    """Cheap integrity check without decoding pixels (a 4K decode takes ~170 ms).

    PNG: Pillow's verify() checks every chunk's CRC up to IEND. JPEG: the
    end-of-image marker must be there. WebP: the RIFF length must fit the data.
    Raises OSError when the file is cut short or corrupt. Leaves ``image`` unusable.
    """
    fmt = image.format
    image.verify()
    if fmt in ("JPEG", "MPO") and not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        raise OSError("JPEG data is truncated (no end-of-image marker)")
    if fmt == "WEBP" and int.from_bytes(data[4:8], "little") + 8 > len(data):
        raise OSError("WebP data is truncated")


def decode_output(b64: str | bytes | memoryview) -> tuple[bytes, ImageInfo]:
    data = b64decode_image(b64)
    return data, inspect_output(data)


def _input_pixels(data: bytes, index: int = 1) -> int:
    """What :func:`prepare_input` may decode: nothing when it refuses the image unread."""
    if len(data) > MAX_INPUT_BYTES:
        return 0
    pixels = header_pixels(data)
    return pixels if pixels <= MAX_INPUT_PIXELS else 0


@weighed(_input_pixels)
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
    _open_heif(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(data) as image:
                fmt = image.format or ""
                width, height = image.size
                if width * height > MAX_INPUT_PIXELS:
                    raise _too_many_pixels(index, width * height)
                animated = bool(getattr(image, "is_animated", False))
                if fmt in _PASSTHROUGH and not animated:
                    check_whole(image, data)  # a truncated upload would only fail upstream, after paying
                    digest = hashlib.sha256(data).hexdigest()
                    return PreparedImage(data, _PASSTHROUGH[fmt], width, height, digest)
                image.seek(0)
                png = _to_png(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(index, _bomb_pixels(exc)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"unreadable image: {exc}", key="image_unreadable", index=index) from None
    return PreparedImage(png, "image/png", width, height, hashlib.sha256(png).hexdigest())


def _too_many_pixels(index: int | str, pixels: int) -> InputError:
    return InputError(
        "too many pixels",
        key="image_too_many_pixels",
        index=index,
        megapixels=round(pixels / 1e6) if pixels else "?",
        limit=MAX_INPUT_PIXELS // 1_000_000,
    )


def _to_png(image: Image.Image) -> bytes:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    converted = image.convert("RGBA" if has_alpha else "RGB")
    buffer = io.BytesIO()
    converted.save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def _mask_pixels(data: bytes, first: PreparedImage) -> int:
    # A mask of another size than the first image is refused before it is decoded.
    return first.width * first.height if len(data) <= MAX_MASK_BYTES else 0


@weighed(_mask_pixels)
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
        with _open(data) as image:
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
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels("mask", _bomb_pixels(exc)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"unreadable mask: {exc}", key="image_unreadable", index="mask") from None
    return PreparedImage(data, "image/png", width, height, hashlib.sha256(data).hexdigest())


# Truncated uploads are an error, never silently padded.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def _preview_pixels(data: bytes, max_side: int | None = None, quality: int = 85) -> int:
    return header_pixels(data)


@weighed(_preview_pixels)
def jpeg_preview(data: bytes, max_side: int | None = None, quality: int = 85) -> bytes:
    """A JPEG of ``data`` with its longest side at most ``max_side`` (None keeps the size):
    what a platform shows when the original is too large for a photo. Transparency
    goes on white, as chat apps show it."""
    with _open(data) as image:
        image.load()
        if max_side is not None and max(image.size) > max_side:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
        else:
            flat = image.convert("RGB")
        buffer = io.BytesIO()
        flat.save(buffer, "JPEG", quality=quality, optimize=True)
        return buffer.getvalue()
