"""``/images/generations`` for a first turn; ``/images/edits`` when there is anything
to edit (the parent's output image first, then uploads). State: the output images."""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import Any

from bot.backends.base import BaseBackend, InputImage, ModelCall, PartialCallback, text_of
from bot.backends.fields import image_fields, safety_identifier
from bot.backends.http import EventStream, Files
from bot.backends.payloads import dumps
from bot.errors import MalformedResponse
from bot.images.types import GeneratedImage, ImageParams, ImageRequest, TurnResult, Usage

log = logging.getLogger(__name__)


def request_fields(model: str, prompt: str, params: ImageParams, user_id: str | None) -> dict[str, Any]:
    """What /images/generations and /images/edits both take."""
    fields: dict[str, Any] = {"model": model, "prompt": prompt, "n": params.n, **image_fields(params)}
    if (user := safety_identifier(user_id)) is not None:
        fields["user"] = user
    return fields


class ImagesBackend(BaseBackend):
    name = "images"

    async def _run_model(self, call: ModelCall) -> TurnResult:
        model, request, on_partial = call.model, call.request, call.on_partial
        inputs = await self.input_images(request, call.parent)
        fields = request_fields(model, request.prompt, request.params, request.user_id)
        stream = self.streaming(on_partial)
        if stream:
            fields.update(stream=True, partial_images=self.partial_images)
        if not inputs:
            body = dumps(fields)
            if stream:
                async with self.client.stream_json("images/generations", body) as events:
                    return await self._from_stream(model, events, on_partial, request.params.n)
            response = await self.client.post_json("images/generations", body)
        else:
            if request.params.input_fidelity is not None:
                fields["input_fidelity"] = request.params.input_fidelity
            form, files = _form(fields), _files(inputs, request)
            if stream:
                async with self.client.stream_multipart("images/edits", form, files) as events:
                    return await self._from_stream(model, events, on_partial, request.params.n)
            response = await self.client.post_multipart("images/edits", form, files)
        document = await response.json()
        images, usage, revised = await self._from_document(document, request.params.n)
        return self._result(model, images, usage, revised, response.request_id)

    async def _from_document(
        self, document: Any, wanted: int
    ) -> tuple[list[GeneratedImage], Usage | None, str | None]:
        if not isinstance(document, dict) or not isinstance(document.get("data"), list):
            raise MalformedResponse("the images response has no data list")
        images: list[GeneratedImage] = []
        revised = None
        for item in document["data"]:
            if not isinstance(item, dict):
                continue
            if len(images) == wanted:
                # One charge buys n pictures: a proxy's extra ones are neither fetched nor sent.
                log.warning("the answer holds more than the %d pictures asked for; keeping those", wanted)
                break
            if item.get("b64_json"):
                images.append(await self.store_output(item["b64_json"]))
            elif item.get("url"):
                url = text_of(item["url"])
                if url.startswith("data:"):
                    images.append(await self.store_output(url))
                else:
                    images.append(await self.store_downloaded(url))
            revised = revised or (item.get("revised_prompt") or None)
        if not images:
            raise MalformedResponse("the images response holds no image")
        return images, Usage.from_api(document.get("usage")), revised

    async def _from_stream(
        self, model: str, events: EventStream, on_partial: PartialCallback | None, wanted: int
    ) -> TurnResult:
        if not events.is_event_stream:
            # The proxy ignored stream=true and answered in one piece.
            whole = await self._from_document(await events.read_json(), wanted)
            return self._result(model, *whole, events.request_id)
        images: list[GeneratedImage] = []
        usage: Usage | None = None
        async with aclosing(self.stream_documents(events)) as documents:
            async for kind, document in documents:
                if kind.endswith(".partial_image"):
                    await self.emit_partial(
                        on_partial, int(document.get("partial_image_index", 0)), document["b64_json"]
                    )
                elif kind.endswith(".completed") and len(images) < wanted:
                    images.append(await self.store_output(document["b64_json"]))
                    usage = Usage.from_api(document.get("usage")) or usage
                elif kind == "error" or "error" in document:
                    raise self.client.error_from_event(document, events.request_id)
        if not images:
            raise MalformedResponse("the image stream ended without a final image")
        return self._result(model, images, usage, None, events.request_id)

    def _result(
        self,
        model: str,
        images: list[GeneratedImage],
        usage: Usage | None,
        revised: str | None,
        request_id: str | None,
    ) -> TurnResult:
        return TurnResult(
            images=tuple(images),
            state={"model": model, "images": [image.blob_id for image in images]},
            backend=self.name,
            model=model,
            revised_prompt=revised,
            usage=usage,
            request_id=request_id,
        )


def _form(fields: dict[str, Any]) -> dict[str, str]:
    return {
        key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in fields.items()
    }


def _files(inputs: list[InputImage], request: ImageRequest) -> Files:
    files: Files = [("image[]", (image.filename, image.data, image.mime)) for image in inputs]
    if request.mask is not None:
        files.append(("mask", (request.mask.filename, request.mask.data, request.mask.mime)))
    return files
