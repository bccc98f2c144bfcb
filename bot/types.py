"""Plain data passed between validation, the backends and the engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MIME_EXTENSIONS: Mapping[str, str] = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class ImageParams:
    """What the user may tune. Values are checked by :mod:`bot.validation`."""

    size: str = "auto"
    quality: str = "auto"
    output_format: str = "png"
    output_compression: int | None = None
    moderation: str = "auto"
    n: int = 1
    background: str | None = None
    input_fidelity: str | None = None


@dataclass(frozen=True, repr=False)
class PreparedImage:
    """A checked input image: real PNG, JPEG or WebP bytes the provider accepts."""

    data: bytes
    mime: str
    width: int
    height: int
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.sha256[:16]}.{MIME_EXTENSIONS.get(self.mime, 'png')}"

    def __repr__(self) -> str:
        return f"PreparedImage({self.mime}, {self.width}x{self.height}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class ImageRequest:
    """One validated generation or edit. Only :mod:`bot.validation` builds these
    (:func:`~bot.validation.prepare_request`, :func:`~bot.validation.prepare_region_request`)."""

    prompt: str
    params: ImageParams = field(default_factory=ImageParams)
    images: tuple[PreparedImage, ...] = ()
    mask: PreparedImage | None = None
    # The picture ``mask`` was checked against (same size): a region edit's parent output,
    # or the first upload. Backends send it first (the provider masks the first image),
    # or, with no mask field (chat), send it with the area highlighted beside it.
    mask_base: PreparedImage | None = None
    # Our user id; backends send only a hash of it to the provider.
    user_id: str | None = None


@dataclass(frozen=True)
class ParentTurn:
    """The turn a request continues from.

    ``images`` are the parent's output blob ids that the user is continuing from
    (the engine narrows them to the one replied to). They let any backend continue
    from a parent made by another backend, or whose upstream state has expired.
    """

    backend: str
    state: Mapping[str, Any]
    images: tuple[str, ...] = ()


@dataclass(frozen=True, repr=False)
class GeneratedImage:
    data: bytes
    mime: str
    width: int
    height: int
    blob_id: str

    def __repr__(self) -> str:
        return f"GeneratedImage({self.mime}, {self.width}x{self.height}, blob={self.blob_id[:12]})"


@dataclass(frozen=True, repr=False)
class PartialImage:
    """A streamed preview, lower quality than the final image."""

    index: int
    data: bytes
    mime: str

    def __repr__(self) -> str:
        return f"PartialImage(#{self.index}, {self.mime}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_image_tokens: int = 0

    @classmethod
    def from_api(cls, raw: Any) -> Usage | None:
        if not isinstance(raw, Mapping):
            return None
        details = raw.get("input_tokens_details") or raw.get("prompt_tokens_details") or {}
        input_tokens = int(raw.get("input_tokens", raw.get("prompt_tokens", 0)) or 0)
        output_tokens = int(raw.get("output_tokens", raw.get("completion_tokens", 0)) or 0)
        return cls(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=int(raw.get("total_tokens", input_tokens + output_tokens) or 0),
            input_image_tokens=int(details.get("image_tokens", 0) or 0)
            if isinstance(details, Mapping)
            else 0,
        )


@dataclass(frozen=True)
class TurnResult:
    images: tuple[GeneratedImage, ...]
    # JSON-serialisable; what a child turn needs to continue from this one.
    state: dict[str, Any]
    backend: str
    model: str
    revised_prompt: str | None = None
    usage: Usage | None = None
    request_id: str | None = None
    latency_s: float = 0.0
    # Text the model said besides the image (chat backend).
    text: str | None = None
    # Models that failed before ``model`` answered (the fallback chain).
    skipped_models: tuple[str, ...] = field(default=())
