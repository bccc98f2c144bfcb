"""What each image model accepts, so requests are checked before money is spent."""

from __future__ import annotations

import math
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


def parse_size(size: str) -> tuple[int, int] | None:
    """``"1536x1024"`` → (1536, 1024); None for ``auto`` or anything unparseable."""
    width, sep, height = size.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        return None
    return int(width), int(height)


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
