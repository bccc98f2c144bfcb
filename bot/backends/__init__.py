"""Image backends: one protocol (:class:`ImageBackend`), three ways to reach the provider."""

from __future__ import annotations

from bot.backends.base import ImageBackend, PartialCallback
from bot.backends.chat import ChatBackend
from bot.backends.http import UpstreamClient
from bot.backends.images import ImagesBackend
from bot.backends.responses import ResponsesBackend
from bot.blobs import BlobStore
from bot.config import Settings

__all__ = [
    "ChatBackend",
    "ImageBackend",
    "ImagesBackend",
    "PartialCallback",
    "ResponsesBackend",
    "UpstreamClient",
    "build_backend",
]


def build_backend(
    settings: Settings, client: UpstreamClient, blobs: BlobStore, backend: str | None = None
) -> ImageBackend:
    """The configured backend (or ``backend`` when given), with its model fallback chain."""
    name = backend or settings.redraw_backend
    models = settings.image_models
    if name == "images":
        return ImagesBackend(client, blobs, models, partial_images=settings.redraw_partial_images)
    if name == "chat":
        # Proxy chat models answer in one piece: no streaming.
        return ChatBackend(client, blobs, models)
    if name == "responses":
        return ResponsesBackend(
            client,
            blobs,
            models,
            mainline_model=settings.redraw_responses_model,
            partial_images=settings.redraw_partial_images,
        )
    raise ValueError(f"unknown backend {name!r}: expected responses, chat or images")
