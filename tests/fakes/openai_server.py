"""A fake OpenAI-compatible image provider on 127.0.0.1 (aiohttp).

It serves ``/v1/images/generations``, ``/v1/images/edits``, ``/v1/chat/completions``
and ``/v1/responses``, and draws real PNGs: each image is filled with the colour
the prompt names last ("a blue cat" → blue, "change it to red" → red), or, with no
colour word, the colour of the image being edited. So a test can tell versions
apart by looking at the pixels.

Every request is recorded (fields, and each file's sha256) and checked against
OpenAI's OpenAPI file; a request that violates it gets a 400, like the real API,
and its violations stay on the record. Responses are chained by id. Faults are
queued with :meth:`FakeOpenAI.fail`.

A hostile or careless provider is a few attributes away: ``chat_content`` (answer
the chat with any text, e.g. links elsewhere), ``answer_images`` (more pictures than
``n``), ``fixed_png`` (a decompression bomb), and ``/redirect?to=`` on its own host.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import itertools
import json
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import BodyPartReader, web
from PIL import Image

from tests.fakes.spec import SpecValidator

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 60),
    "blue": (30, 70, 220),
    "yellow": (240, 210, 30),
    "orange": (245, 140, 20),
    "purple": (130, 40, 170),
    "pink": (240, 120, 170),
    "black": (10, 10, 10),
    "white": (250, 250, 250),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "brown": (120, 70, 30),
    "cyan": (30, 200, 210),
    "红": (220, 30, 30),
    "绿": (30, 170, 60),
    "蓝": (30, 70, 220),
    "黄": (240, 210, 30),
}
DEFAULT_COLOUR = (128, 128, 128)
_COLOUR_WORD = re.compile(r"\b(" + "|".join(k for k in COLOURS if k.isascii()) + r")\b|([红绿蓝黄])", re.I)
_SIZE_IN_PROMPT = re.compile(r"\((\d{3,4})x(\d{3,4})\)")


def colour_named(text: str) -> tuple[int, int, int] | None:
    """The colour word that comes last in ``text``."""
    matches = list(_COLOUR_WORD.finditer(text))
    if not matches:
        return None
    word = (matches[-1].group(1) or matches[-1].group(2)).lower()
    return COLOURS[word]


def colour_of(png: bytes) -> tuple[int, int, int]:
    """The colour at the centre of an image (how tests read what was drawn)."""
    with Image.open(io.BytesIO(png)) as image:
        pixel = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def nearest_colour_name(rgb: tuple[int, int, int]) -> str:
    def distance(name: str) -> int:
        return sum((a - b) ** 2 for a, b in zip(COLOURS[name], rgb, strict=True))

    return min((name for name in COLOURS if name.isascii()), key=distance)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A whole, valid 1-bit PNG of ``width`` x ``height``: a few KB that decode to as many
    pixels as they claim (a decompression bomb). Made row by row, never held in full."""
    row = bytes(1 + (width + 7) // 8)  # filter byte, then all-black bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def draw_png(size: tuple[int, int], colour: tuple[int, int, int], *, texture: bool = False) -> bytes:
    """A solid image; ``texture`` adds noise so the PNG is as big as a real picture."""
    image = Image.new("RGB", size, colour)
    if texture:
        noise = Image.effect_noise(size, 64).convert("RGB")
        image = Image.blend(image, noise, 0.5)
        # Keep the centre pixel exact so colour checks still work.
        image.putpixel((size[0] // 2, size[1] // 2), colour)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@dataclass
class RecordedFile:
    name: str
    filename: str
    content_type: str
    sha256: str
    size: int
    data: bytes = field(repr=False)


# What GET /v1/models lists (less any model a test made unavailable).
LISTED_MODELS = ("gpt-5", "gpt-image-1", "gpt-image-2", "gpt-image-2-all")


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    json: Any = None
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[RecordedFile] = field(default_factory=list)
    spec_errors: list[str] = field(default_factory=list)
    # The URL's query parameters (a gateway's api-version, say).
    query: dict[str, str] = field(default_factory=dict)
    status: int = 200
    # When it arrived, and when its answer was sent (time.monotonic()).
    at: float = field(default_factory=time.monotonic)
    answered_at: float | None = None

    @property
    def field_values(self) -> dict[str, str]:
        return {name: values[0] for name, values in self.fields.items()}

    def input_images(self) -> list[bytes]:
        """Every image the request carried: multipart image files, or data URLs in JSON."""
        if self.files:
            return [file.data for file in self.files if file.name.startswith("image")]
        return [base64.b64decode(url.split(",", 1)[1]) for url in _data_urls(self.json)]

    def input_image_hashes(self) -> list[str]:
        return [hashlib.sha256(data).hexdigest() for data in self.input_images()]


def _data_urls(node: Any) -> Iterable[str]:
    if isinstance(node, str) and node.startswith("data:image/"):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key != "input_image_mask":
                yield from _data_urls(value)
    elif isinstance(node, list):
        for value in node:
            yield from _data_urls(value)


@dataclass
class Fault:
    kind: str
    times: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    path: str | None = None


Admission = tuple["Fault | None", web.Response | None]


class _BrokenBody(Exception):
    """Raised by a fault: the handler answers half a body, then drops the connection."""


RECORD = web.RequestKey("record", RecordedRequest)


@web.middleware
async def _timed(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        if (record := request.get(RECORD)) is not None:
            record.answered_at = time.monotonic()


@web.middleware
async def _break_bodies(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except _BrokenBody:
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b'{"created": 1, "data": [{"b64_json": "iVBOR')
        assert request.transport is not None
        request.transport.close()
    return response


class FakeOpenAI:
    FAULTS = (
        "rate_limit",
        "server_error",
        "moderation",
        "slow",
        "malformed_json",
        "truncated_b64",
        "url_404",
        "insufficient_quota",
        "auth",
        "previous_response_not_found",
        "broken_body",
        "unavailable",
        "dribble",
    )

    def __init__(self, *, validator: SpecValidator | None = None, texture: bool = False) -> None:
        self.validator = validator
        self.texture = texture
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.unavailable_models: set[str] = set()
        # How /images answers: "b64_json" (the GPT image models) or "url" (some proxies).
        self.images_result = "b64_json"
        # How /chat answers: "markdown_url", "data_url" or "text_only".
        self.chat_result = "markdown_url"
        # Ignore stream=true and answer in one piece, as some proxies do.
        self.ignore_stream = False
        # Seconds between a stream's partial images and what follows each, as a provider
        # that draws for a while between previews (0: all at once).
        self.partial_gap = 0.0
        # Always draw this size (the benchmark's 4K image).
        self.fixed_size: tuple[int, int] | None = None
        # Answer this picture (and previews) whatever was asked (e.g. a bomb_png).
        self.fixed_png: bytes | None = None
        # Answer this many pictures whatever n says (a careless proxy).
        self.answer_images: int | None = None
        # Answer the chat with this content (text, or a list of parts) instead of a picture.
        self.chat_content: str | list[dict[str, Any]] | None = None
        # Paths of GET requests to its own host (/files, /redirect, /drip), in order.
        self.fetched: list[str] = []
        self.file_types: dict[str, str] = {}
        # /drip responses that have sent their first byte and not yet ended.
        self.dripping = 0
        self._drips_released = asyncio.Event()
        self._drip_started = asyncio.Event()
        # Every image request takes this long (the benchmarks' provider).
        self.latency = 0.0
        self.responses: dict[str, bytes] = {}
        self.files: dict[str, bytes] = {}
        # Its links answer 503 (a file store that is down while the answers still come).
        self.files_unavailable = False
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._png_cache: dict[tuple[tuple[int, int], tuple[int, int, int]], bytes] = {}
        self.port = 0

    # --- lifecycle -------------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        app = web.Application(client_max_size=200 * 1024 * 1024, middlewares=[_timed, _break_bodies])
        app.router.add_post("/v1/images/generations", self._generations)
        app.router.add_post("/v1/images/edits", self._edits)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/drip", self._drip)
        app.router.add_get("/v1/models", self._models)
        # A closing fake drops handlers still sleeping in a "slow" fault.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.base_url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def file_url(self, name: str, data: bytes | None = None, content_type: str = "image/png") -> str:
        """A link on the fake's own host; with ``data``, it serves those bytes."""
        if data is not None:
            self.files[name] = data
            self.file_types[name] = content_type
        return f"http://127.0.0.1:{self.port}/files/{name}"

    def redirect_url(self, to: str) -> str:
        return f"http://127.0.0.1:{self.port}/redirect?{urlencode({'to': to})}"

    def drip_url(self, every: float = 0.0) -> str:
        """A link that claims a 1 MB image, sends one byte, then waits for
        :meth:`release_drips`; with ``every``, sends a byte every ``every`` seconds."""
        return f"http://127.0.0.1:{self.port}/drip?every={every}"

    def release_drips(self) -> None:
        self._drips_released.set()

    async def until_dripping(self, count: int) -> None:
        """Wait until ``count`` drips have sent their first byte."""
        while self.dripping < count:
            self._drip_started.clear()
            await self._drip_started.wait()

    async def close(self) -> None:
        self.release_drips()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- controls ----------------------------------------------------------------

    def fail(
        self,
        kind: str,
        *,
        times: int = 1,
        retry_after: float | None = None,
        delay: float = 0.0,
        path: str | None = None,
    ) -> None:
        if kind not in self.FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {self.FAULTS}")
        self.faults.append(Fault(kind, times, retry_after, delay, path))

    def forget_responses(self) -> None:
        """Drop every stored response, as the provider does after its retention period."""
        self.responses.clear()

    @property
    def spec_violations(self) -> list[str]:
        return [f"{r.path}: {error}" for r in self.requests for error in r.spec_errors]

    def last(self, path_suffix: str = "") -> RecordedRequest:
        return [r for r in self.requests if r.path.endswith(path_suffix)][-1]

    # --- plumbing ------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.path is None or path.endswith(fault.path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _request_id(self) -> str:
        return f"req_{next(self._ids):06d}"

    def _error(
        self, status: int, message: str, code: str, kind: str = "invalid_request_error", **headers: str
    ) -> web.Response:
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return web.json_response(body, status=status, headers={"x-request-id": self._request_id(), **headers})

    async def _fault_response(self, fault: Fault | None, key: str = "") -> web.Response | None:
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.kind == "broken_body":
            raise _BrokenBody
        if fault.kind == "previous_response_not_found":
            self.forget_responses()  # then answer as usual: the id is now unknown
        if fault.kind == "rate_limit":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return self._error(
                429, "Rate limit reached for images per minute.", "rate_limit_exceeded", "requests", **headers
            )
        if fault.kind == "insufficient_quota":
            return self._error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            )
        if fault.kind == "unavailable":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return self._error(
                503, "The engine is currently overloaded.", "overloaded", "server_error", **headers
            )
        if fault.kind == "server_error":
            return self._error(
                500, "The server had an error while processing your request.", "server_error", "server_error"
            )
        if fault.kind == "moderation":
            return self._error(
                400,
                "Your request was rejected by the safety system.",
                "moderation_blocked",
                "image_generation_user_error",
            )
        if fault.kind == "auth":
            # As careless proxies do: the key sent, echoed whole in the message.
            return self._error(401, f"Incorrect API key provided: {key}.", "invalid_api_key")
        if fault.kind == "malformed_json":
            return web.Response(
                status=200,
                body=b'{"created": 1, "data": [',
                content_type="application/json",
                headers={"x-request-id": self._request_id()},
            )
        return None

    def _draw(self, size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
        if self.fixed_png is not None:
            return self.fixed_png
        size = self.fixed_size or size
        key = (size, colour)
        if key not in self._png_cache:
            self._png_cache[key] = draw_png(size, colour, texture=self.texture)
        return self._png_cache[key]

    @staticmethod
    def _size(size: Any, fallback: tuple[int, int] = (1024, 1024)) -> tuple[int, int]:
        if isinstance(size, str) and "x" in size:
            width, height = size.split("x")
            return int(width), int(height)
        return fallback

    @staticmethod
    def _b64(png: bytes, fault: Fault | None) -> str:
        encoded = base64.b64encode(png).decode()
        if fault is not None and fault.kind == "truncated_b64":
            return encoded[: (len(encoded) * 2 // 3) // 4 * 4]
        return encoded

    async def _record_json(self, request: web.Request) -> tuple[RecordedRequest, Any]:
        raw = await request.read()
        record = RecordedRequest(request.path, dict(request.headers), query=dict(request.query))
        request[RECORD] = record
        self.requests.append(record)
        try:
            record.json = json.loads(raw)
        except ValueError as exc:
            record.spec_errors.append(f"body is not JSON: {exc}")
            return record, None
        if self.validator is not None:
            record.spec_errors += self.validator.validate_json(request.path, record.json)
        return record, record.json

    def _spec_rejection(self, record: RecordedRequest) -> web.Response | None:
        if not record.spec_errors:
            return None
        record.status = 400
        return self._error(400, "spec violation: " + "; ".join(record.spec_errors)[:2000], "spec_violation")

    async def _admit(
        self, request: web.Request, record: RecordedRequest, model: Callable[[], Any]
    ) -> Admission:
        """Spec check, then a queued fault, then the model: the first that refuses answers.
        ``model`` is read only once the body passed the spec check."""
        if (rejection := self._spec_rejection(record)) is not None:
            return None, rejection
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self._take_fault(request.path)
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if (failure := await self._fault_response(fault, key)) is not None:
            record.status = failure.status
            return fault, failure
        rejection = self._model_rejection(model())
        if rejection is not None:
            record.status = rejection.status
        return fault, rejection

    def _model_rejection(self, model: Any) -> web.Response | None:
        if model in self.unavailable_models:
            return self._error(
                404, f"The model `{model}` does not exist or you do not have access to it.", "model_not_found"
            )
        return None

    # --- /images -------------------------------------------------------------------

    async def _generations(self, request: web.Request) -> web.StreamResponse:
        record, body = await self._record_json(request)
        fault, refusal = await self._admit(request, record, lambda: body.get("model"))
        if refusal is not None:
            return refusal
        colour = colour_named(body["prompt"]) or DEFAULT_COLOUR
        count = self.answer_images or int(body.get("n") or 1)
        pngs = [self._draw(self._size(body.get("size")), colour) for _ in range(count)]
        return await self._images_answer(request, body, pngs, fault, "image_generation")

    async def _edits(self, request: web.Request) -> web.StreamResponse:
        record = RecordedRequest(request.path, dict(request.headers), query=dict(request.query))
        request[RECORD] = record
        self.requests.append(record)
        reader = await request.multipart()
        counts: dict[str, int] = {}
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            data = bytes(await part.read())
            name = part.name or ""
            if part.filename:
                counts[name] = counts.get(name, 0) + 1
                digest = hashlib.sha256(data).hexdigest()
                content_type = part.headers.get("Content-Type", "")
                record.files.append(RecordedFile(name, part.filename, content_type, digest, len(data), data))
            else:
                record.fields.setdefault(name, []).append(data.decode())
        if self.validator is not None:
            record.spec_errors += self.validator.validate_multipart(request.path, record.fields, counts)
        fields = record.field_values
        fault, refusal = await self._admit(request, record, lambda: fields.get("model"))
        if refusal is not None:
            return refusal
        images = [file.data for file in record.files if file.name.startswith("image")]
        if not images:
            return self._error(400, "image is required", "missing_image")
        with Image.open(io.BytesIO(images[0])) as first:
            first_size = first.size
        colour = colour_named(fields.get("prompt", "")) or colour_of(images[0])
        size = self._size(fields.get("size"), first_size)
        pngs = [self._draw(size, colour) for _ in range(self.answer_images or int(fields.get("n", "1")))]
        body = {
            **fields,
            "stream": fields.get("stream") == "true",
            "partial_images": int(fields.get("partial_images", "0")),
        }
        return await self._images_answer(request, body, pngs, fault, "image_edit")

    async def _images_answer(
        self,
        request: web.Request,
        body: dict[str, Any],
        pngs: list[bytes],
        fault: Fault | None,
        event_prefix: str,
    ) -> web.StreamResponse:
        usage = {
            "input_tokens": 50,
            "output_tokens": 4160,
            "total_tokens": 4210,
            "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
        }
        common = {
            "size": body.get("size") or "auto",
            "quality": body.get("quality") or "auto",
            "background": "opaque",
            "output_format": body.get("output_format") or "png",
        }
        if body.get("stream") and not self.ignore_stream:
            stream = await self._open_sse(request)
            for png in pngs:
                for index in range(int(body.get("partial_images") or 0)):
                    partial = self.fixed_png or draw_png((256, 256), colour_of(png))
                    await self._send_event(
                        stream,
                        {
                            "type": f"{event_prefix}.partial_image",
                            "b64_json": base64.b64encode(partial).decode(),
                            "created_at": int(time.time()),
                            "partial_image_index": index,
                            **common,
                        },
                    )
                    await asyncio.sleep(self.partial_gap)
                await self._send_event(
                    stream,
                    {
                        "type": f"{event_prefix}.completed",
                        "b64_json": self._b64(png, fault),
                        "created_at": int(time.time()),
                        "usage": usage,
                        **common,
                    },
                )
            await stream.write_eof()
            return stream
        data = []
        for png in pngs:
            if self.images_result == "url" or (fault is not None and fault.kind == "url_404"):
                name = f"img_{next(self._ids)}.png"
                if fault is None or fault.kind != "url_404":
                    self.files[name] = png
                data.append({"url": f"http://127.0.0.1:{self.port}/files/{name}"})
            else:
                data.append({"b64_json": self._b64(png, fault)})
        answer = {
            "created": int(time.time()),
            "data": data,
            "usage": usage,
            "output_format": common["output_format"],
        }
        if fault is not None and fault.kind == "dribble":
            return await self._dribble(request, json.dumps(answer).encode())
        return web.json_response(answer, headers={"x-request-id": self._request_id()})

    async def _dribble(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """As proxies that keep a connection alive do: a space now, the answer once
        :meth:`release_drips` is called."""
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "x-request-id": self._request_id()}
        )
        await response.prepare(request)
        self.dripping += 1
        self._drip_started.set()
        try:
            await response.write(b" ")
            await self._drips_released.wait()
            await response.write(body)
        finally:
            self.dripping -= 1
        await response.write_eof()
        return response

    async def _open_sse(self, request: web.Request) -> web.StreamResponse:
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "x-request-id": self._request_id()}
        )
        await stream.prepare(request)
        return stream

    @staticmethod
    async def _send_event(stream: web.StreamResponse, event: dict[str, Any]) -> None:
        await stream.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(RecordedRequest(request.path, dict(request.headers), query=dict(request.query)))
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if (failure := await self._fault_response(self._take_fault(request.path), key)) is not None:
            return failure
        models = [name for name in LISTED_MODELS if name not in self.unavailable_models]
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": name, "object": "model", "owned_by": "fake"} for name in models],
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        self.fetched.append(request.path_qs)
        if self.files_unavailable:
            return web.Response(status=503, text="the file store is down")
        png = self.files.get(request.match_info["name"])
        if png is None:
            return web.Response(status=404, text="not found")
        name = request.match_info["name"]
        return web.Response(body=png, content_type=self.file_types.get(name, "image/png"))

    async def _redirect(self, request: web.Request) -> web.Response:
        self.fetched.append(request.path_qs)
        raise web.HTTPFound(request.query["to"])

    async def _drip(self, request: web.Request) -> web.StreamResponse:
        self.fetched.append(request.path_qs)
        every = float(request.query.get("every", "0"))
        response = web.StreamResponse(headers={"Content-Type": "image/png", "Content-Length": "1000000"})
        await response.prepare(request)
        self.dripping += 1
        self._drip_started.set()
        try:
            await response.write(b"\x89")
            while not self._drips_released.is_set():
                if every:
                    await asyncio.sleep(every)
                    await response.write(b"\x00")
                else:
                    await self._drips_released.wait()
        except ConnectionError:
            pass  # the bot gave up on it
        finally:
            self.dripping -= 1
        return response

    # --- /chat/completions ---------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.Response:
        record, body = await self._record_json(request)
        fault, refusal = await self._admit(request, record, lambda: body.get("model"))
        if refusal is not None:
            return refusal
        last = body["messages"][-1]
        parts = (
            last["content"]
            if isinstance(last["content"], list)
            else [{"type": "text", "text": last["content"]}]
        )
        prompt = " ".join(p.get("text", "") for p in parts if p.get("type") == "text")
        images = record.input_images()
        colour = colour_named(prompt) or (colour_of(images[0]) if images else DEFAULT_COLOUR)
        size_match = _SIZE_IN_PROMPT.search(prompt)
        size = (int(size_match.group(1)), int(size_match.group(2))) if size_match else (1024, 1024)
        png = self._draw(size, colour)
        if self.chat_content is not None:
            content: str | list[dict[str, Any]] = self.chat_content
        elif self.chat_result == "text_only":
            content = "I can't draw that, but here is a description instead."
        elif self.chat_result == "data_url" and (fault is None or fault.kind != "url_404"):
            content = f"Here you go!\n\n![image](data:image/png;base64,{self._b64(png, fault)})"
        else:
            name = f"chat_{next(self._ids)}.png"
            if fault is None or fault.kind != "url_404":
                self.files[name] = png
            url = f"http://127.0.0.1:{self.port}/files/{name}"
            content = f"Here you go!\n\n![image]({url})\n\n[Download]({url})"
        answer = {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50},
        }
        return web.json_response(answer, headers={"x-request-id": self._request_id()})

    # --- /responses ----------------------------------------------------------------------

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        record, body = await self._record_json(request)
        fault, refusal = await self._admit(request, record, lambda: body["tools"][0].get("model"))
        if refusal is not None:
            return refusal
        tool = body["tools"][0]
        previous = body.get("previous_response_id")
        if previous and previous not in self.responses:
            return self._error(
                400, f"Previous response with id '{previous}' not found.", "previous_response_not_found"
            )
        prompt = " ".join(
            part.get("text", "")
            for message in body["input"]
            for part in (
                message["content"] if isinstance(message["content"], list) else [{"text": message["content"]}]
            )
            if part.get("type", "input_text") == "input_text"
        )
        images = record.input_images()
        base = images[0] if images else self.responses.get(previous) if previous else None
        colour = colour_named(prompt) or (colour_of(base) if base else DEFAULT_COLOUR)
        png = self._draw(self._size(tool.get("size"), (1024, 1024)), colour)
        response_id = f"resp_{next(self._ids):06d}"
        self.responses[response_id] = png
        item: dict[str, Any] = {
            "type": "image_generation_call",
            "id": f"ig_{next(self._ids)}",
            "status": "completed",
            "result": self._b64(png, fault),
            "revised_prompt": f"A picture: {prompt}",
            "output_format": tool.get("output_format", "png"),
            "size": tool.get("size", "auto"),
            "quality": tool.get("quality", "auto"),
            "background": "opaque",
        }
        answer = {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body["model"],
            "previous_response_id": previous,
            "output": [
                {**item, "id": f"{item['id']}_{extra}"} if extra else item
                for extra in range(self.answer_images or 1)
            ],
            "usage": {
                "input_tokens": 100,
                "output_tokens": 20,
                "total_tokens": 120,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }
        if body.get("stream") and not self.ignore_stream:
            stream = await self._open_sse(request)
            await self._send_event(
                stream,
                {
                    "type": "response.created",
                    "sequence_number": 0,
                    "response": {**answer, "status": "in_progress", "output": []},
                },
            )
            for index in range(int(tool.get("partial_images") or 0)):
                partial = self.fixed_png or draw_png((256, 256), colour)
                await self._send_event(
                    stream,
                    {
                        "type": "response.image_generation_call.partial_image",
                        "output_index": 0,
                        "item_id": item["id"],
                        "sequence_number": index + 1,
                        "partial_image_index": index,
                        "partial_image_b64": base64.b64encode(partial).decode(),
                    },
                )
                await asyncio.sleep(self.partial_gap)
            await self._send_event(
                stream, {"type": "response.completed", "sequence_number": 99, "response": answer}
            )
            await stream.write_eof()
            return stream
        return web.json_response(answer, headers={"x-request-id": self._request_id()})
