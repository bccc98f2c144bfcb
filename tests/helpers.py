from __future__ import annotations

import asyncio
import io
import socket
import time
from typing import Any

import aiohttp
from PIL import Image

from bot.images.types import ImageParams, ImageRequest, ParentTurn, PartialImage, TurnResult
from bot.images.validation import prepare_request
from tests.fakes.openai_server import COLOURS, colour_of, nearest_colour_name


def png(colour: str = "blue", size: tuple[int, int] = (64, 64), mode: str = "RGB") -> bytes:
    image = Image.new(mode, size, COLOURS[colour] + ((255,) if mode == "RGBA" else ()))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def colour_name(data: bytes) -> str:
    return nearest_colour_name(colour_of(data))


async def make_request(
    prompt: str,
    *,
    model: str = "gpt-image-2",
    backend: str = "images",
    images: list[bytes] | None = None,
    mask: bytes | None = None,
    parent_images: int = 0,
    user_id: str | None = "user-42",
    **params: Any,
) -> ImageRequest:
    return await prepare_request(
        prompt,
        ImageParams(**params),
        model=model,
        backend=backend,
        images=images or [],
        mask=mask,
        parent_images=parent_images,
        user_id=user_id,
    )


def parent_of(result: TurnResult) -> ParentTurn:
    """What the engine hands a backend when a user replies to ``result``'s image."""
    return ParentTurn(result.backend, result.state, tuple(image.blob_id for image in result.images))


class PartialCollector:
    def __init__(self) -> None:
        self.partials: list[PartialImage] = []

    async def __call__(self, partial: PartialImage) -> None:
        self.partials.append(partial)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until_healthy(url: str, within: float = 20.0) -> str:
    """Poll a /healthz until it answers 200; its body."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return await response.text()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered 200")
