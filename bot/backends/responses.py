"""``/responses`` with the ``image_generation`` tool: a mainline model (gpt-5) that
calls the image model, continuing a conversation by ``previous_response_id``.

When the provider no longer knows the parent response (past its retention, or
made by another backend), the request continues from the parent's stored output
image instead: the user never meets "not found".

A region edit sends its mask as the tool's ``input_image_mask`` and the picture the
mask was drawn on as the first ``input_image``, even when ``previous_response_id``
already holds that picture: the mask applies to an image of the input.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

from bot import imaging, payloads
from bot.backends.base import BaseBackend, InputImage, ModelCall, PartialCallback, text_of
from bot.backends.fields import image_fields, safety_identifier
from bot.backends.http import EventStream, UpstreamClient
from bot.blobs import BlobStore
from bot.errors import InputError, MalformedResponse, NoImageReturned, StateExpired
from bot.offload import run_cpu
from bot.types import GeneratedImage, TurnResult, Usage

log = logging.getLogger(__name__)


class ResponsesBackend(BaseBackend):
    name = "responses"

    def __init__(
        self,
        client: UpstreamClient,
        blobs: BlobStore,
        models: Sequence[str],
        *,
        mainline_model: str = "gpt-5",
        partial_images: int = 0,
    ) -> None:
        super().__init__(client, blobs, models, partial_images=partial_images)
        self.mainline_model = mainline_model

    async def _run_model(self, call: ModelCall) -> TurnResult:
        request, parent = call.request, call.parent
        previous = None
        if parent is not None and parent.backend == self.name:
            previous = parent.state.get("response_id") or None
        if previous is None:
            return await self._call(call, None, await self.input_images(request, parent))
        # The parent's picture is in the conversation already; a mask needs the picture it
        # applies to in the input all the same (input_images puts request.mask_base first).
        uploads = await self.input_images(request, None)
        try:
            return await self._call(call, str(previous), uploads)
        except StateExpired:
            log.info("response %s is gone upstream; continuing from its stored image", previous)
            if parent is None or not parent.images:
                raise InputError(
                    "parent gone upstream, no stored image", key="parent_image_missing"
                ) from None
            return await self._call(call, None, await self.input_images(request, parent))

    async def _call(
        self, call: ModelCall, previous_response_id: str | None, images: Sequence[InputImage]
    ) -> TurnResult:
        stream = self.streaming(call.on_partial)
        document_out = await self._body(call, previous_response_id, images, stream)
        body = await run_cpu(payloads.dumps, document_out)
        if stream:
            async with self.client.stream_json("responses", body) as events:
                document, request_id = await self._from_stream(events, call.on_partial)
        else:
            response = await self.client.post_json("responses", body)
            document, request_id = await response.json(), response.request_id
        return await self._result(call.model, document, request_id, call.request.params.n)

    async def _body(
        self, call: ModelCall, previous_response_id: str | None, images: Sequence[InputImage], stream: bool
    ) -> dict[str, Any]:
        request, params = call.request, call.request.params
        tool: dict[str, Any] = {"type": "image_generation", "model": call.model, **image_fields(params)}
        if params.input_fidelity is not None:
            tool["input_fidelity"] = params.input_fidelity
        if request.mask is not None:
            mask_url = await run_cpu(imaging.data_url, request.mask.data, request.mask.mime)
            tool["input_image_mask"] = {"image_url": payloads.Splice(mask_url)}
        content: list[dict[str, Any]] = [{"type": "input_text", "text": request.prompt}]
        for image in images:
            url = await run_cpu(imaging.data_url, image.data, image.mime)
            content.append({"type": "input_image", "image_url": payloads.Splice(url), "detail": "auto"})
        body: dict[str, Any] = {
            "model": self.mainline_model,
            "input": [{"role": "user", "content": content}],
            "tools": [tool],
            "tool_choice": {"type": "image_generation"},
            "store": True,  # previous_response_id needs the response kept
        }
        if previous_response_id:
            body["previous_response_id"] = previous_response_id
        if (identifier := safety_identifier(request.user_id)) is not None:
            body["safety_identifier"] = identifier
        if stream:
            body["stream"] = True
            tool["partial_images"] = self.partial_images
        return body

    async def _from_stream(
        self, events: EventStream, on_partial: PartialCallback | None
    ) -> tuple[Any, str | None]:
        if not events.is_event_stream:
            return await events.read_json(), events.request_id
        async with aclosing(self.stream_documents(events)) as documents:
            async for kind, document in documents:
                if kind == "response.image_generation_call.partial_image":
                    index = int(document.get("partial_image_index", 0))
                    await self.emit_partial(on_partial, index, document["partial_image_b64"])
                elif kind in ("response.completed", "response.incomplete", "response.failed"):
                    return document.get("response"), events.request_id
                elif kind == "error":
                    raise self.client.error_from_event(document, events.request_id)
        raise MalformedResponse("the response stream ended before the response completed")

    async def _result(self, model: str, document: Any, request_id: str | None, wanted: int) -> TurnResult:
        if not isinstance(document, dict):
            raise MalformedResponse("the response is not a JSON object", request_id=request_id)
        if isinstance(document.get("error"), dict):
            raise self.client.error_from_event(document, request_id)
        images: list[GeneratedImage] = []
        revised: str | None = None
        said: list[str] = []
        for item in document.get("output") or []:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "image_generation_call" and item.get("result"):
                if len(images) == wanted:
                    # One charge buys what was asked for; more are not decoded or sent.
                    log.warning("the response holds more than the %d pictures asked for", wanted)
                    continue
                images.append(await self.store_output(item["result"]))
                revised = revised or text_of(item.get("revised_prompt")) or None
            elif item.get("type") == "message":
                said += [
                    text_of(part.get("text")) for part in item.get("content") or [] if isinstance(part, dict)
                ]
        text = "\n".join(part for part in said if part).strip()
        if not images:
            raise NoImageReturned(
                "the response holds no image", request_id=request_id, provider_message=text[:500] or None
            )
        response_id = str(document.get("id") or "")
        return TurnResult(
            images=tuple(images),
            state={
                "model": model,
                "mainline_model": self.mainline_model,
                "response_id": response_id,
                "images": [image.blob_id for image in images],
            },
            backend=self.name,
            model=model,
            revised_prompt=revised,
            usage=Usage.from_api(document.get("usage")),
            request_id=request_id,
            text=text or None,
        )
