"""``/chat/completions`` for proxy image models (``gpt-image-2-all``, ``-vip``).

These models take no size, n or quality fields: the size is said in words at the
start of the prompt. The image comes back inside ``message.content``, as a
markdown link or a data URL.

State is the message history with images as blob references. Only the images
being worked on travel as data: the parent's output and the new uploads go into
the new user message (assistant messages may not carry images); older images
stay in the history as a short ``[image]`` note, which keeps every request small.

These models take no mask either. A region edit sends the picture, then the same
picture with the area to change highlighted, and says in words to change only that
area (:data:`REGION_INSTRUCTION`); the history keeps the user's own words.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.backends.base import BaseBackend, InputImage, ModelCall, text_of
from bot.backends.payloads import LargeString, Splice, dumps
from bot.errors import MalformedResponse, NoImageReturned
from bot.images import imaging
from bot.images.catalogue import parse_size
from bot.images.offload import run_cpu
from bot.images.types import GeneratedImage, TurnResult, Usage

log = logging.getLogger(__name__)

MAX_HISTORY_MESSAGES = 20
# What a region edit says to a model that takes no mask, with the highlighted picture
# (bot.images.region_pictures.highlight_region) as the second image. It names no colour: the
# user's words say what colour things should become.
REGION_INSTRUCTION = (
    "Edit only one area of the first image. The second image is the same picture with that "
    "area highlighted (tinted and outlined): it only shows where to change, it is not a style "
    "or content to copy. Change only what is inside the highlighted area, keep everything "
    "outside it exactly as it is, and do not draw the highlight or its outline. "
    "The change: {prompt}"
)
IMAGE_NOTE = "[image]"
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?(https?://[^\s)>]+)>?\s*\)")
_IMAGE_LINK = re.compile(
    r"https?://[^\s)\]\"'<>]+?\.(?:png|jpe?g|webp|gif)(?:\?[^\s)\]\"'<>]*)?", re.IGNORECASE
)
_DATA_URL_END = (b")", b'"', b"'", b" ", b"\n", b"\r", b"]", b">")


def size_words(size: str) -> str:
    """``2048x1152`` → ``Landscape 16:9, 2K (2048x1152)``; ``auto`` → nothing."""
    dims = parse_size(size)
    if dims is None:
        return ""
    width, height = dims
    divisor = math.gcd(width, height)
    ratio = f"{width // divisor}:{height // divisor}"
    shape = "Landscape" if width > height else "Portrait" if height > width else "Square"
    longest = max(width, height)
    resolution = ", 4K" if longest >= 3840 else ", 2K" if longest >= 2048 else ""
    return f"{shape} {ratio}{resolution} ({width}x{height})"


@dataclass(frozen=True)
class FoundImages:
    data_urls: list[bytes | memoryview]
    links: list[str]
    text: str


def find_images(content: bytes | LargeString) -> FoundImages:
    """Pull images out of a reply: data URLs first (by byte search: they are megabytes),
    then markdown image links, then bare image links. Runs on the image pool."""
    raw = bytes(content.as_bytes()) if isinstance(content, LargeString) else content
    view = memoryview(raw)
    data_urls: list[bytes | memoryview] = []
    rest: list[bytes] = []
    position = 0
    while (start := raw.find(b"data:image/", position)) >= 0:
        ends = [at for marker in _DATA_URL_END if (at := raw.find(marker, start)) >= 0]
        end = min(ends) if ends else len(raw)
        data_urls.append(view[start:end])
        rest.append(raw[position:start])
        position = end
    rest.append(raw[position:])
    text = b"".join(rest).decode("utf-8", "replace")
    links = list(dict.fromkeys(_MARKDOWN_IMAGE.findall(text)))
    if not links:
        links = list(dict.fromkeys(_IMAGE_LINK.findall(text)))
    # What the model said besides the image, without the markup around it.
    spoken = _MARKDOWN_IMAGE.sub("", text)
    spoken = re.sub(r"!\[[^\]]*\]\(\s*\)", "", spoken)
    for link in links:
        spoken = spoken.replace(link, "")
    spoken = re.sub(r"\[[^\]]*\]\(\s*\)", "", spoken)
    return FoundImages(data_urls, links, re.sub(r"\n{3,}", "\n\n", spoken).strip())


def _message_content(message: Mapping[str, Any]) -> tuple[bytes | LargeString, list[str]]:
    """A reply's content, plus image URLs from structured content parts."""
    content = message.get("content")
    if isinstance(content, LargeString):
        return content, []
    if isinstance(content, str):
        return content.encode("utf-8"), []
    if isinstance(content, list):
        texts, urls = [], []
        for part in content:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "image_url" and isinstance(part.get("image_url"), Mapping):
                urls.append(text_of(part["image_url"].get("url")))
            elif "text" in part:
                texts.append(text_of(part["text"]))
        return "\n".join(texts).encode("utf-8"), urls
    return b"", []


class ChatBackend(BaseBackend):
    name = "chat"

    async def _run_model(self, call: ModelCall) -> TurnResult:
        model, request, parent = call.model, call.request, call.parent
        history: list[dict[str, Any]] = []
        if parent is not None and parent.backend == self.name:
            history = [dict(message) for message in parent.state.get("messages", [])]
        inputs = await self.input_images(request, parent)
        for upload in request.images:
            await self.blobs.put(upload.data, sha256=upload.sha256)
        words = size_words(request.params.size)
        prompt = f"{words}. {request.prompt}" if words else request.prompt
        sent_prompt, sent_inputs = prompt, inputs
        if request.mask is not None and request.mask_base is not None and inputs:
            # No mask field: the area goes as a second picture, and in words.
            marked = await _highlighted(request.mask_base.data, request.mask.data)
            sent_inputs = [inputs[0], marked, *inputs[1:]]
            instruction = REGION_INSTRUCTION.format(prompt=request.prompt)
            sent_prompt = f"{words}. {instruction}" if words else instruction

        outgoing = [_as_text_message(message) for message in history[-MAX_HISTORY_MESSAGES:]]
        outgoing.append(await _user_message(sent_prompt, sent_inputs))
        body = await run_cpu(dumps, {"model": model, "messages": outgoing})
        response = await self.client.post_json("chat/completions", body)
        document = await response.json()

        choices = document.get("choices") if isinstance(document, dict) else None
        if (
            not choices
            or not isinstance(choices[0], Mapping)
            or not isinstance(choices[0].get("message"), Mapping)
        ):
            raise MalformedResponse("the chat response has no message", request_id=response.request_id)
        content, part_urls = _message_content(choices[0]["message"])
        found = await run_cpu(find_images, content)
        images = await self._collect(found, part_urls, request.params.n)
        if not images:
            raise NoImageReturned(
                "the model answered without an image",
                request_id=response.request_id,
                provider_message=found.text[:500] or None,
            )

        user_entry = {"role": "user", "content": _parts(prompt, [image.blob_id for image in inputs])}
        reply_entry = {
            "role": "assistant",
            "content": _parts(found.text, [image.blob_id for image in images]),
        }
        messages = [*history, user_entry, reply_entry][-MAX_HISTORY_MESSAGES:]
        return TurnResult(
            images=tuple(images),
            state={"model": model, "messages": messages, "images": [image.blob_id for image in images]},
            backend=self.name,
            model=model,
            usage=Usage.from_api(document.get("usage")),
            request_id=response.request_id,
            text=found.text or None,
        )

    async def _collect(
        self, found: FoundImages, part_urls: Sequence[str], wanted: int
    ) -> list[GeneratedImage]:
        """The first ``wanted`` pictures of the answer, in order: one charge buys what was
        asked for, and a prompt that makes the model write 30 links gets no 30 downloads."""
        links = [url for url in dict.fromkeys([*part_urls, *found.links]) if url]  # in order, each once
        candidates: list[bytes | memoryview | str] = [*found.data_urls, *links]
        if len(candidates) > wanted:
            log.warning("the answer holds %d pictures; keeping the first %d", len(candidates), wanted)
        images = []
        for candidate in candidates[:wanted]:
            if isinstance(candidate, str) and not candidate.startswith("data:"):
                images.append(await self.store_downloaded(candidate))
            else:
                images.append(await self.store_output(candidate))
        return images


async def _highlighted(picture: bytes, mask: bytes) -> InputImage:
    """The picture with the mask's area highlighted, made on the image pool."""
    # Imported here: Pillow's drawing and FreeType are megabytes an idle bot never needs.
    from bot.images.region_pictures import highlight_region  # noqa: PLC0415

    data = await run_cpu(highlight_region, picture, mask)
    digest = await run_cpu(_sha256, data)
    return InputImage(data, "image/jpeg", f"{digest[:16]}.jpg", digest)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parts(text: str, blob_ids: Sequence[str]) -> list[dict[str, str]]:
    parts = [{"type": "image", "blob": blob_id} for blob_id in blob_ids]
    if text:
        parts.append({"type": "text", "text": text})
    return parts


def _as_text_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A stored message as the provider sees it: images as a short note."""
    texts = []
    for part in message.get("content", []):
        if part.get("type") == "image":
            texts.append(IMAGE_NOTE)
        elif part.get("type") == "text":
            texts.append(part.get("text", ""))
    return {"role": message.get("role", "user"), "content": " ".join(texts) or IMAGE_NOTE}


async def _user_message(prompt: str, inputs: Sequence[InputImage]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for image in inputs:
        url = await run_cpu(imaging.data_url, image.data, image.mime)
        parts.append({"type": "image_url", "image_url": {"url": Splice(url)}})
    parts.append({"type": "text", "text": prompt})
    return {"role": "user", "content": parts}
