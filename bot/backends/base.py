"""What every backend shares: the protocol, the model fallback chain, turning the
provider's images into stored blobs, and loading a parent's images."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot import imaging
from bot.backends.http import EventStream, UpstreamClient, parse_json
from bot.blobs import BlobNotFound, BlobStore
from bot.errors import InputError, MalformedResponse, OutputTooLarge, UpstreamError
from bot.offload import run_cpu
from bot.payloads import LargeString, Payload, unwrap
from bot.types import (
    MIME_EXTENSIONS,
    GeneratedImage,
    ImageRequest,
    ParentTurn,
    PartialImage,
    PreparedImage,
    TurnResult,
)
from bot.validation import adapt_params

log = logging.getLogger(__name__)

PartialCallback = Callable[[PartialImage], Awaitable[None]]


class ImageBackend(Protocol):
    name: str

    async def run(
        self,
        request: ImageRequest,
        parent: ParentTurn | None = None,
        *,
        on_partial: PartialCallback | None = None,
    ) -> TurnResult: ...


@dataclass(frozen=True, repr=False)
class InputImage:
    """An image about to be uploaded: the parent's output or a user's upload."""

    data: bytes
    mime: str
    filename: str
    blob_id: str

    def __repr__(self) -> str:
        return f"InputImage({self.mime}, {len(self.data)} bytes, blob={self.blob_id[:12]})"


@dataclass(frozen=True)
class ModelCall:
    """One model's try at a request, as the fallback chain hands it to a backend."""

    model: str
    # The request with its parameters fitted to this model.
    request: ImageRequest
    parent: ParentTurn | None
    on_partial: PartialCallback | None


class BaseBackend(ABC):
    name = "base"

    def __init__(
        self,
        client: UpstreamClient,
        blobs: BlobStore,
        models: Sequence[str],
        *,
        partial_images: int = 0,
    ) -> None:
        if not models:
            raise ValueError("at least one image model is needed")
        self.client = client
        self.blobs = blobs
        self.models = tuple(models)
        self.partial_images = partial_images

    async def run(
        self,
        request: ImageRequest,
        parent: ParentTurn | None = None,
        *,
        on_partial: PartialCallback | None = None,
    ) -> TurnResult:
        """Try each model of the chain in turn, moving on only when a model is missing
        or unavailable (never on a moderation block or a bad request)."""
        started = time.perf_counter()
        skipped: list[str] = []
        for position, model in enumerate(self.models):
            attempt = (
                request if position == 0 else replace(request, params=adapt_params(request.params, model))
            )
            try:
                result = await self._run_model(ModelCall(model, attempt, parent, on_partial))
            except UpstreamError as error:
                if not error.model_fallback or position + 1 == len(self.models):
                    raise
                log.warning(
                    "model %s failed (%s, request id %s); falling back to %s",
                    model,
                    error.kind,
                    error.request_id,
                    self.models[position + 1],
                )
                skipped.append(model)
                continue
            return replace(result, latency_s=time.perf_counter() - started, skipped_models=tuple(skipped))
        raise AssertionError("unreachable: the last model re-raises")

    @abstractmethod
    async def _run_model(self, call: ModelCall) -> TurnResult: ...

    # --- helpers for subclasses --------------------------------------------

    def streaming(self, on_partial: PartialCallback | None) -> bool:
        return self.partial_images > 0 and on_partial is not None

    async def input_images(self, request: ImageRequest, parent: ParentTurn | None) -> list[InputImage]:
        """The parent's images then the uploads. With a mask, the picture it was checked
        against (``request.mask_base``: a region edit's parent output, or the first upload)
        goes first, because the provider applies a mask to the first image; it is sent
        once even when it is the parent's image too."""
        inherited = await self.parent_images(parent)
        uploads = [_input(image) for image in request.images]
        if request.mask_base is None:
            return uploads + inherited if request.mask is not None else inherited + uploads
        base = _input(request.mask_base)
        return [base, *(image for image in inherited + uploads if image.blob_id != base.blob_id)]

    async def parent_images(self, parent: ParentTurn | None) -> list[InputImage]:
        if parent is None:
            return []
        loaded = []
        for blob_id in parent.images:
            try:
                data = await self.blobs.get(blob_id)
            except BlobNotFound:
                # Drawing from scratch instead would answer "make it red" with an unrelated picture.
                log.warning("parent image %s is no longer in the blob store", blob_id)
                raise InputError("parent image missing", key="parent_image_missing") from None
            mime = imaging.sniff_mime(data) or "image/png"
            extension = MIME_EXTENSIONS.get(mime, "png")
            loaded.append(InputImage(data, mime, f"{blob_id[:16]}.{extension}", blob_id))
        return loaded

    async def store_output(self, payload: Payload) -> GeneratedImage:
        """Decode a base64 result off the loop, check it is a whole image, keep it as a blob."""
        data, info = await run_cpu(_decode_output, payload)
        blob_id = await self.blobs.put(data, sha256=info.sha256)
        return GeneratedImage(data, info.mime, info.width, info.height, blob_id)

    async def store_downloaded(self, url: str) -> GeneratedImage:
        data, _content_type = await self.client.download(url)
        info = await run_cpu(imaging.inspect_output, data)
        blob_id = await self.blobs.put(data, sha256=info.sha256)
        return GeneratedImage(data, info.mime, info.width, info.height, blob_id)

    async def emit_partial(self, on_partial: PartialCallback | None, index: int, payload: Payload) -> None:
        if on_partial is None:
            return
        try:
            data = await run_cpu(_decode_partial, payload)
        except MalformedResponse as error:
            log.warning("skipping a partial image: %s", error.detail)
            return
        try:
            await on_partial(PartialImage(index, data, imaging.sniff_mime(data) or "image/png"))
        except Exception:
            # A preview failing to show must not cost the user the final image.
            log.exception("partial image callback failed")

    async def stream_documents(self, events: EventStream) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """Each event of a stream as (its type, its JSON object), until ``[DONE]``."""
        async for event in events.events():
            if event.data.strip() == b"[DONE]":
                return
            document = await parse_json(event.data)
            if not isinstance(document, dict):
                raise MalformedResponse("a streamed event is not a JSON object")
            yield str(document.get("type") or event.event or ""), document


def _input(image: PreparedImage) -> InputImage:
    return InputImage(image.data, image.mime, image.filename, image.sha256)


def _decode_output(payload: Payload) -> tuple[bytes, imaging.ImageInfo]:
    return imaging.decode_output(unwrap(payload))


def _decode_partial(payload: Payload) -> bytes:
    data = imaging.b64decode_image(unwrap(payload))
    # Previews skip the whole-image check, not the bomb check: the adapters decode them.
    if (pixels := imaging.header_pixels(data)) > imaging.MAX_OUTPUT_PIXELS:
        raise OutputTooLarge(f"a preview of {pixels} pixels")
    return data


def text_of(value: Any) -> str:
    if isinstance(value, LargeString):
        return value.as_str()
    return value if isinstance(value, str) else ""
