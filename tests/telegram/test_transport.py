"""python-telegram-bot's requests go out with each body in one piece (one write, not one
per multipart chunk)."""

from __future__ import annotations

import httpx

from adapters.telegram_adapter.transport import JOIN_MAX_BYTES, WholeBodyTransport


class ChunkCounter(httpx.AsyncBaseTransport):
    """Stands in for the network: how many chunks each body arrived in, and the body."""

    def __init__(self) -> None:
        self.bodies: list[tuple[int, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        chunks = [chunk async for chunk in request.stream]  # type: ignore[union-attr]
        self.bodies.append((len(chunks), b"".join(chunks)))
        return httpx.Response(200, json={"ok": True, "result": True})


async def test_a_multipart_upload_goes_in_one_piece() -> None:
    form = {"chat_id": "42", "caption": "a red kite", "reply_markup": '{"inline_keyboard": []}'}
    photo = {"photo": ("photo.png", b"\x89PNG" + b"\0" * 5000, "image/png")}
    plain = ChunkCounter()
    async with httpx.AsyncClient(transport=plain) as client:
        await client.post("http://telegram.test/bot1:x/sendPhoto", data=form, files=photo)
    joined = ChunkCounter()
    async with httpx.AsyncClient(transport=WholeBodyTransport(joined)) as client:
        await client.post("http://telegram.test/bot1:x/sendPhoto", data=form, files=photo)
    [(plain_chunks, plain_body)], [(joined_chunks, joined_body)] = plain.bodies, joined.bodies
    assert plain_chunks > 10  # what httpx alone would write, one system call each
    assert joined_chunks == 1
    # The same body, boundary aside.
    boundary = plain_body.split(b"\r\n", 1)[0]
    assert joined_body.replace(joined_body.split(b"\r\n", 1)[0], boundary) == plain_body


async def test_a_large_upload_is_not_copied() -> None:
    counter = ChunkCounter()
    big = {"document": ("original.png", b"\0" * (JOIN_MAX_BYTES + 1), "image/png")}
    async with httpx.AsyncClient(transport=WholeBodyTransport(counter)) as client:
        await client.post("http://telegram.test/bot1:x/sendDocument", data={"chat_id": "42"}, files=big)
    [(chunks, _)] = counter.bodies
    assert chunks > 1  # streamed as httpx makes it, not joined into a second copy
