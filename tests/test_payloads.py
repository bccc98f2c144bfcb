"""The large-payload JSON codec and the byte-level SSE reader."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from bot.backends import payloads
from bot.backends.sse import iter_events
from bot.errors import MalformedResponse
from bot.images import imaging
from tests.helpers import encoded, png


def test_big_strings_are_lifted_and_small_ones_kept() -> None:
    big = base64.b64encode(os.urandom(300_000)).decode()
    raw = json.dumps({"data": [{"b64_json": big, "note": 'a "quoted" \\ word'}], "n": 2, "ok": True}).encode()
    document = payloads.loads(raw)
    lifted = document["data"][0]["b64_json"]
    assert isinstance(lifted, payloads.LargeString)
    assert bytes(lifted.as_bytes()) == big.encode() and lifted.as_str() == big
    assert document["data"][0]["note"] == 'a "quoted" \\ word'
    assert document["n"] == 2 and document["ok"] is True


def test_escaped_big_strings_decode() -> None:
    big = base64.b64encode(os.urandom(100_000))
    raw = b'{"r": "' + big.replace(b"/", b"\\/") + b'", "t": "x\\"y"}'
    document = payloads.loads(raw)
    assert bytes(document["r"].as_bytes()) == big
    assert document["t"] == 'x"y'


def test_small_documents_parse_normally() -> None:
    assert payloads.loads(b'{"a": [1, "b", {"c": null}]}') == {"a": [1, "b", {"c": None}]}


@pytest.mark.parametrize("raw", [b'{"created": 1, "data": [', b"<html>502</html>", b'{"a": "unterminated'])
def test_broken_json_is_a_malformed_response(raw: bytes) -> None:
    with pytest.raises(MalformedResponse):
        payloads.loads(raw)


def test_dumps_splices_big_values_verbatim() -> None:
    blob = b"data:image/png;base64," + base64.b64encode(os.urandom(200_000))
    body = payloads.dumps(
        {"input": [{"image_url": payloads.Splice(blob)}, "ünï"], "k": payloads.Splice(b"abc")}
    )
    decoded = json.loads(body)
    assert decoded["input"][0]["image_url"].encode() == blob
    assert decoded["input"][1] == "ünï" and decoded["k"] == "abc"


def test_base64_matches_the_stdlib_and_is_strict() -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    encoded = base64.b64encode(data)
    assert imaging.data_url(data, "image/png") == b"data:image/png;base64," + encoded
    assert imaging.b64decode_image(encoded) == data
    assert imaging.b64decode_image(encoded.decode()) == data
    assert imaging.b64decode_image(memoryview(b"data:image/png;base64," + encoded)) == data
    with pytest.raises(MalformedResponse):
        imaging.b64decode_image(encoded[:-1])
    with pytest.raises(MalformedResponse):
        imaging.b64decode_image(b"!!!!" + encoded[4:])


def test_outputs_that_do_not_decode_are_refused() -> None:
    whole = png("red", (300, 300))
    data, info = imaging.decode_output(base64.b64encode(whole))
    assert data == whole and (info.width, info.height, info.mime) == (300, 300, "image/png")
    with pytest.raises(MalformedResponse):
        imaging.inspect_output(whole[: len(whole) // 2])


async def chunks_of(raw: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
async def test_sse_events_across_chunk_boundaries(chunk_size: int) -> None:
    big = b"x" * 50_000
    stream = (
        b": comment\n"
        b'event: image_generation.partial_image\ndata: {"a": 1}\n\n'
        b"data: line one\r\ndata: line two\r\n\r\n"
        b"event: done\ndata: " + big + b"\n\n"
        b"data: [DONE]"
    )
    events = [event async for event in iter_events(chunks_of(stream, chunk_size))]
    assert [(e.event, e.data[:20]) for e in events] == [
        ("image_generation.partial_image", b'{"a": 1}'),
        (None, b"line one\nline two"),
        ("done", big[:20]),
        (None, b"[DONE]"),
    ]
    assert events[2].data == big


def test_truncated_jpeg_and_webp_outputs_are_refused() -> None:
    picture = Image.effect_noise((200, 200), 50).convert("RGB")
    for fmt in ("JPEG", "WEBP"):
        whole = encoded(picture, fmt)
        assert imaging.inspect_output(whole).width == 200
        with pytest.raises(MalformedResponse):
            imaging.inspect_output(whole[: len(whole) * 3 // 4])
