"""Validation before spending: everything the provider would reject, refused first.

Each refusal is an :class:`~bot.errors.InputError` whose message key the adapters
localize. Image sniffing runs in a worker thread.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Protocol

from bot import imaging, regions
from bot.errors import InputError, download_too_large
from bot.models import (
    MAX_PIXELS,
    MAX_SIDE,
    MIN_PIXELS,
    ImageModel,
    image_model,
    nearest_preset,
    nearest_valid_size,
    parse_size,
    size_problem,
)
from bot.offload import QueueFull, run_cpu, user_queue
from bot.types import ImageParams, ImageRequest, PreparedImage

MAX_PROMPT_CHARS = 32_000
MAX_INPUT_IMAGES = 16
MAX_N = 10
QUALITIES = ("auto", "low", "medium", "high")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
MODERATIONS = ("auto", "low")
BACKGROUNDS = ("auto", "opaque", "transparent")
INPUT_FIDELITIES = ("low", "high")
# Backends whose one call yields one image; more come from parallel calls (variations).
SINGLE_IMAGE_BACKENDS = ("responses", "chat")
DEFAULT_PARAMS = ImageParams()
# Control and format characters (U+200B…U+200D, U+2060, U+FEFF, tags, bidi marks), and every
# kind of space: they show nothing.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
# Marks and letters that render as nothing: the combining grapheme joiner, Hangul fillers,
# Khmer inherent vowels, Mongolian variation selectors, the blank Braille pattern.
_INVISIBLE_CHARS = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2800, 0x3164, 0xFFA0}
)
# Upload types the bot reads (see imaging.prepare_input), named as platforms name them.
READABLE_MIMES = frozenset(
    {
        "image/png",
        "image/x-png",
        "image/jpeg",
        "image/jpg",
        "image/pjpeg",
        "image/webp",
        "image/gif",
        "image/heic",
        "image/heif",
        "image/heic-sequence",
        "image/heif-sequence",
        "image/avif",
        "image/bmp",
        "image/x-bmp",
        "image/x-ms-bmp",
        "image/tiff",
    }
)
# How much of a refused value a message quotes back.
SHOWN_VALUE_CHARS = 24
# What each size refusal quotes of the rule it broke.
_SIZE_LIMITS: dict[str, dict[str, object]] = {
    "size_side_too_long": {"limit": MAX_SIDE},
    "size_too_few_pixels": {"limit": f"{MIN_PIXELS:,}"},
    "size_too_many_pixels": {"limit": f"{MAX_PIXELS:,}"},
}
_SIZE_SIGNS = str.maketrans({"×": "x", "*": "x", "X": "x", "ｘ": "x", "Ｘ": "x", "＊": "x"})


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only spaces, zero-width and other format or control
    characters, variation selectors, fillers. Such a prompt is an empty one."""
    return all(map(_invisible, text))


def visible(text: str) -> str:
    """``text``, or ``""`` when it shows nothing (what adapters hand the engine)."""
    return "" if is_blank(text) else text


def _invisible(char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.category(char) in _INVISIBLE_CATEGORIES
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or code in _INVISIBLE_CHARS
    )


def check_prompt(prompt: str) -> str:
    text = prompt.strip()
    if is_blank(text):
        raise InputError("empty prompt", key="prompt_empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError("prompt too long", key="prompt_too_long", length=len(text), limit=MAX_PROMPT_CHARS)
    return text


def normalize_size(size: str) -> str:
    """Accept ``1536x1024``, ``1536X1024``, ``1536×1024``, ``1536*1024`` (full-width digits and
    signs too); return ``1536x1024``. ``²x²`` and the like are no size."""
    text = "".join(size.split()).lower().translate(_SIZE_SIGNS)
    # Decimal digits of any script are digits; superscripts and circled numbers are not.
    text = "".join(str(unicodedata.digit(c)) if unicodedata.category(c) == "Nd" else c for c in text)
    if text == "auto":
        return text
    found = re.fullmatch(r"0*([0-9]+)x0*([0-9]+)", text)
    if found is None or "0" in found.groups():
        raise InputError("bad size", key="size_invalid", size=_shown(size.strip()))
    return f"{found.group(1)}x{found.group(2)}"


def check_size(size: str, model: ImageModel) -> str:
    size = normalize_size(size)
    if size in model.sizes:
        return size
    if not model.custom_sizes:
        raise InputError(
            "size not supported",
            key="size_not_supported",
            model=model.name,
            size=_shown(size),
            allowed=", ".join(model.sizes),
        )
    width, height = parse_size(size) or (0, 0)
    key = size_problem(width, height)
    if key is None:
        return size
    # Every refusal names a size that is itself accepted, of the same shape where the rules allow.
    suggestion = "{}x{}".format(*nearest_valid_size(width, height))
    raise InputError(key, key=key, size=_shown(size), suggestion=suggestion, **_SIZE_LIMITS.get(key, {}))


def _shown(value: str) -> str:
    """What a refusal may quote of the user's value: a size of thousands of digits is cut."""
    return value if len(value) <= SHOWN_VALUE_CHARS else value[: SHOWN_VALUE_CHARS - 1] + "…"


def check_quality(quality: str) -> str:
    _one_of(quality, QUALITIES, "quality_invalid")
    return quality


def check_params(params: ImageParams, model_name: str, backend: str = "images") -> ImageParams:
    """Check every parameter for ``model_name``; return them normalized."""
    model = image_model(model_name)
    check_quality(params.quality)
    _one_of(params.output_format, OUTPUT_FORMATS, "output_format_invalid")
    _one_of(params.moderation, MODERATIONS, "moderation_invalid")
    if params.output_compression is not None:
        if not 1 <= params.output_compression <= 100:
            raise InputError("compression", key="compression_invalid", value=params.output_compression)
        if params.output_format == "png":
            raise InputError("compression on png", key="compression_needs_lossy")
    if not 1 <= params.n <= MAX_N:
        raise InputError("n", key="n_invalid", value=params.n, limit=MAX_N)
    if params.n > 1 and backend in SINGLE_IMAGE_BACKENDS:
        raise InputError("n on a single-image backend", key="n_not_supported")
    if params.background is not None:
        _one_of(params.background, BACKGROUNDS, "background_invalid")
        if params.background == "transparent":
            if not model.transparent_background:
                raise InputError("transparent", key="background_transparent_unsupported", model=model.name)
            if params.output_format == "jpeg":
                raise InputError("transparent jpeg", key="background_transparent_format", format="jpeg")
    if params.input_fidelity is not None:
        _one_of(params.input_fidelity, INPUT_FIDELITIES, "input_fidelity_invalid")
        if not model.input_fidelity:
            raise InputError("input fidelity", key="input_fidelity_unsupported", model=model.name)
    return replace(params, size=check_size(params.size, model))


def adapt_params(params: ImageParams, model_name: str) -> ImageParams:
    """Fit already-valid parameters to a fallback model: keep what it supports, map the rest."""
    model = image_model(model_name)
    size = params.size if model.custom_sizes else nearest_preset(params.size, model)
    background = params.background
    if background == "transparent" and not model.transparent_background:
        background = None
    fidelity = params.input_fidelity if model.input_fidelity else None
    return replace(params, size=size, background=background, input_fidelity=fidelity)


def _one_of(value: str, allowed: Sequence[str], key: str) -> None:
    if value not in allowed:
        raise InputError(f"{key}: {value!r}", key=key, value=value)


def check_image_count(count: int) -> None:
    if count > MAX_INPUT_IMAGES:
        raise InputError("too many images", key="too_many_images", count=count, limit=MAX_INPUT_IMAGES)


class ImageFacts(Protocol):
    """What a platform says about an upload before it is fetched; None where it says nothing."""

    @property
    def mime(self) -> str | None: ...

    @property
    def size(self) -> int | None: ...

    @property
    def width(self) -> int | None: ...

    @property
    def height(self) -> int | None: ...

    # The most this platform lets the bot fetch (Telegram's Bot API: 20 MB); None: no own limit.
    @property
    def max_bytes(self) -> int | None: ...


def check_upfront(prompt: str, images: Sequence[ImageFacts], *, already: int = 0) -> None:
    """Everything the text and the platforms' metadata can tell, checked before anything is
    downloaded, decoded or stored: a refused request fetches nothing. ``already`` counts the
    images the request carries besides these (the parent's picture)."""
    check_prompt(prompt)
    check_image_count(already + len(images))
    for index, image in enumerate(images, start=1):
        if image.mime is not None and image.mime.lower() not in READABLE_MIMES:
            shown = _shown(image.mime)
            raise InputError("unreadable type", key="image_type_unsupported", index=index, type=shown)
        size = image.size
        if size is not None and image.max_bytes is not None and size > image.max_bytes:
            raise download_too_large(size, image.max_bytes)
        if size is not None and size > imaging.MAX_INPUT_BYTES:
            raise InputError(
                "image too big",
                key="image_too_big",
                index=index,
                size_mb=round(size / 2**20, 1),
                limit_mb=imaging.MAX_INPUT_BYTES // 2**20,
            )
        if image.width and image.height and image.width * image.height > imaging.MAX_INPUT_PIXELS:
            raise InputError(
                "too many pixels",
                key="image_too_many_pixels",
                index=index,
                megapixels=round(image.width * image.height / 1e6),
                limit=imaging.MAX_INPUT_PIXELS // 1_000_000,
            )


async def prepare_images(images: Sequence[bytes], *, already: int = 0) -> tuple[PreparedImage, ...]:
    """Sniff and normalize uploads off the loop. ``already`` counts images the request
    carries besides these (the parent's output), for the 16-image limit."""
    check_image_count(already + len(images))
    prepared = []
    for index, data in enumerate(images, start=1):
        prepared.append(await run_cpu(imaging.prepare_input, data, index))
    return tuple(prepared)


@asynccontextmanager
async def image_work(user_id: str | None) -> AsyncIterator[None]:
    """One request's image preparation, counted against its user (see :func:`user_queue`)."""
    try:
        async with user_queue(user_id):
            yield
    except QueueFull as full:
        raise InputError("image queue full", key="image_queue_full", limit=full.limit) from None


async def prepare_request(
    prompt: str,
    params: ImageParams = DEFAULT_PARAMS,
    *,
    model: str,
    backend: str = "images",
    images: Sequence[bytes] = (),
    mask: bytes | None = None,
    parent_images: int = 0,
    user_id: str | None = None,
) -> ImageRequest:
    """Build a request only if everything checks out; otherwise raise InputError.

    ``parent_images`` is how many images the parent turn contributes as inputs.
    Cheap checks run first so a bad prompt never waits for image decoding.
    """
    text = check_prompt(prompt)
    checked = check_params(params, model, backend)
    check_image_count(parent_images + len(images))
    if mask is not None and not images:
        # Here a mask applies to the first upload; a region of the parent's picture is
        # prepare_region_request's.
        raise InputError("mask without image", key="mask_without_image")
    prepared: tuple[PreparedImage, ...] = ()
    prepared_mask = None
    if images:
        async with image_work(user_id):
            prepared = await prepare_images(images, already=parent_images)
            if mask is not None:
                prepared_mask = await run_cpu(regions.prepare_region_mask, mask, prepared[0])
    return ImageRequest(
        prompt=text,
        params=checked,
        images=prepared,
        mask=prepared_mask,
        mask_base=prepared[0] if prepared_mask is not None else None,
        user_id=user_id,
    )


async def prepare_region_request(
    prompt: str,
    params: ImageParams = DEFAULT_PARAMS,
    *,
    model: str,
    backend: str = "images",
    mask: bytes,
    mask_base: bytes,
    images: Sequence[bytes] = (),
    parent_images: int = 1,
    user_id: str | None = None,
) -> ImageRequest:
    """A region edit: change the area ``mask`` marks (alpha 0) of ``mask_base``, the
    parent's output picture the region was chosen on (pass its bytes, and the parent as
    usual to the backend). ``images`` are any new uploads; ``parent_images`` counts the
    parent's images, ``mask_base`` among them, for the 16-image limit.

    Everything is checked before any upstream call, on the image pool: the prompt and
    parameters, then ``mask_base`` (readable, not a bomb), then the mask against it (a
    PNG with alpha, the same size, under 4 MB, marking neither nothing nor everything:
    ``region_nothing_marked``, ``region_everything_marked``). Works on every backend:
    images and responses send the mask; chat sends the picture with the area highlighted.
    """
    text = check_prompt(prompt)
    checked = check_params(params, model, backend)
    check_image_count(max(parent_images, 1) + len(images))
    async with image_work(user_id):
        base = await run_cpu(imaging.prepare_input, mask_base, 1)
        prepared_mask = await run_cpu(regions.prepare_region_mask, mask, base)
        prepared = await prepare_images(images, already=max(parent_images, 1))
    return ImageRequest(
        prompt=text, params=checked, images=prepared, mask=prepared_mask, mask_base=base, user_id=user_id
    )
