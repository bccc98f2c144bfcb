"""Server-sent events read as bytes.

A streamed final image is one multi-megabyte ``data:`` line. Text-based SSE
readers decode and split it on the event loop; this one only searches for
newlines (memchr) and hands each event's data over as bytes, to be parsed in a
worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, repr=False)
class ServerSentEvent:
    event: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"ServerSentEvent({self.event!r}, {len(self.data)} bytes)"


async def iter_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
    buffer = bytearray()
    scanned = 0  # bytes of ``buffer`` known to hold no newline
    event: str | None = None
    data: list[bytes] = []
    async for chunk in chunks:
        buffer += chunk
        while True:
            newline = buffer.find(b"\n", scanned)
            if newline < 0:
                scanned = len(buffer)
                break
            line = bytes(buffer[:newline]).removesuffix(b"\r")
            del buffer[: newline + 1]  # cheap: bytearray trims its front in place
            scanned = 0
            if not line:
                if data:
                    yield ServerSentEvent(event, b"\n".join(data))
                event, data = None, []
                continue
            field, _, value = line.partition(b":")
            value = value.removeprefix(b" ")
            if field == b"data":
                data.append(value)
            elif field == b"event":
                event = value.decode("utf-8", "replace")
    if data:
        yield ServerSentEvent(event, b"\n".join(data))
