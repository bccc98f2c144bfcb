"""What each image model accepts, so requests are checked before money is spent."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

GPT_IMAGE_2_PRESETS: tuple[str, ...] = (
    "1024x1024",
    "1536x1024",
    "1024x1536",
    "2048x2048",
    "2048x1152",
    "3840x2160",
    "2160x3840",
)
CLASSIC_PRESETS: tuple[str, ...] = ("1024x1024", "1536x1024", "1024x1536")

# gpt-image-2 custom size rules (provider docs).
SIZE_STEP = 16
MAX_SIDE = 3840
MAX_RATIO = 3.0
MIN_PIXELS = 655_360
MAX_PIXELS = 8_294_400


@dataclass(frozen=True)
class ImageModel:
    name: str
    # Any WIDTHxHEIGHT within the gpt-image-2 rules, not only the presets.
    custom_sizes: bool
    presets: tuple[str, ...]
    transparent_background: bool
    input_fidelity: bool
    # Proxy models reached through /chat/completions: size goes into the prompt.
    via_chat: bool = False

    @property
    def sizes(self) -> tuple[str, ...]:
        return ("auto", *self.presets)


def image_model(name: str) -> ImageModel:
    """Capabilities by model name; snapshots (``gpt-image-2-2026-04-21``) follow their family.

    Unknown names (a proxy's own alias) get gpt-image-2's rules, the default model.
    """
    lowered = name.lower()
    if lowered.startswith(("gpt-image-2-all", "gpt-image-2-vip")):
        return ImageModel(name, True, GPT_IMAGE_2_PRESETS, False, False, via_chat=True)
    if lowered.startswith("gpt-image-1-mini"):
        return ImageModel(name, False, CLASSIC_PRESETS, True, False)
    if lowered.startswith(("gpt-image-1", "chatgpt-image")):
        return ImageModel(name, False, CLASSIC_PRESETS, True, True)
    return ImageModel(name, True, GPT_IMAGE_2_PRESETS, False, False)


# Sides written with more digits than this are only ever "far too long": their value is
# approximated from their leading digits (int() refuses thousands of digits outright).
_EXACT_DIGITS = 9
# How much a difference in area counts against a difference in shape when advising a size:
# 1% off the requested aspect ratio weighs as much as 5% off its area.
_AREA_WEIGHT = 0.2


def parse_size(size: str) -> tuple[int, int] | None:
    """``"1536x1024"`` → (1536, 1024); None for ``auto`` or anything unparseable.

    Only ASCII digits count (``"²x²"`` is no size), and a side of thousands of digits
    parses to a huge number rather than raising."""
    found = re.fullmatch(r"([0-9]+)x([0-9]+)", size.lower())
    if found is None:
        return None
    return _side(found.group(1)), _side(found.group(2))


def _side(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    if len(digits) <= _EXACT_DIGITS:
        return int(digits)
    scale: int = 10 ** (len(digits) - _EXACT_DIGITS)
    return int(digits[:_EXACT_DIGITS]) * scale


def size_problem(width: int, height: int) -> str | None:
    """The first gpt-image-2 rule a custom size breaks, as its message key; None: it fits."""
    if width % SIZE_STEP or height % SIZE_STEP:
        return "size_not_multiple_of_16"
    if max(width, height) > MAX_SIDE:
        return "size_side_too_long"
    if max(width, height) > MAX_RATIO * min(width, height):
        return "size_ratio_too_wide"
    if width * height < MIN_PIXELS:
        return "size_too_few_pixels"
    if width * height > MAX_PIXELS:
        return "size_too_many_pixels"
    return None


def nearest_valid_size(width: int, height: int) -> tuple[int, int]:
    """The gpt-image-2 size closest to ``width``x``height``: the same shape first (aspect
    ratio as close as the rules allow), then the closest area. A refused 5000x5000 becomes
    another square (2880x2880), never 3840x2160."""
    ratio = math.log(max(width, 1)) - math.log(max(height, 1))
    area = math.log(max(width, 1)) + math.log(max(height, 1))
    best: tuple[float, int, int] | None = None
    for w in range(SIZE_STEP, MAX_SIDE + 1, SIZE_STEP):
        # The heights this width allows: ratio ≤ 3:1, side ≤ 3840, pixels within bounds.
        low = max(SIZE_STEP, _ceil_step(w / MAX_RATIO), _ceil_step(MIN_PIXELS / w))
        high = min(MAX_SIDE, int(w * MAX_RATIO), (MAX_PIXELS // w) // SIZE_STEP * SIZE_STEP)
        if low > high:
            continue
        # The shape term outweighs the area term, so for one width the best height is the
        # one nearest w / ratio on either side.
        ideal = w / math.exp(min(max(ratio, -math.log(MAX_RATIO)), math.log(MAX_RATIO)))
        for h in {min(max(_floor_step(ideal), low), high), min(max(_ceil_step(ideal), low), high)}:
            if size_problem(w, h) is not None:  # float rounding at a bound: never advise a refused size
                continue
            cost = abs(math.log(w / h) - ratio) + _AREA_WEIGHT * abs(math.log(w * h) - area)
            if best is None or (cost, w, h) < best:
                best = (cost, w, h)
    assert best is not None
    return best[1], best[2]


def _floor_step(value: float) -> int:
    return int(value // SIZE_STEP) * SIZE_STEP


def _ceil_step(value: float) -> int:
    return math.ceil(value / SIZE_STEP) * SIZE_STEP


def nearest_preset(size: str, model: ImageModel) -> str:
    """The model's preset closest in shape to ``size`` (used when falling back to an older model)."""
    if size == "auto" or size in model.presets:
        return size
    dims = parse_size(size)
    if dims is None:
        return "auto"
    ratio = dims[0] / dims[1]

    def distance(preset: str) -> tuple[float, int]:
        w, h = parse_size(preset) or (1, 1)
        return abs(w / h - ratio), abs(w * h - dims[0] * dims[1])

    return min(model.presets, key=distance)


def size_label(size: str) -> str:
    """How a size reads on a button: ``1536x1024`` → ``3:2``, ``3840x2160`` → ``16:9 4K``."""
    dims = parse_size(size)
    if dims is None:
        return size
    width, height = dims
    divisor = math.gcd(width, height)
    ratio = f"{width // divisor}:{height // divisor}"
    longest = max(width, height)
    tier = " 4K" if longest >= 3840 else " 2K" if longest >= 2048 else ""
    return f"{ratio}{tier}"
