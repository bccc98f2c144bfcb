"""Image backends: one protocol (:class:`ImageBackend`), three ways to reach the provider."""

from __future__ import annotations

from bot.backends.base import ImageBackend, PartialCallback
from bot.backends.chat import ChatBackend
from bot.backends.http import UpstreamClient
from bot.backends.images import ImagesBackend
from bot.backends.responses import ResponsesBackend

__all__ = [
    "ChatBackend",
    "ImageBackend",
    "ImagesBackend",
    "PartialCallback",
    "ResponsesBackend",
    "UpstreamClient",
]
