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
        while (newline := buffer.find(b"\n", scanned)) >= 0:
            line = bytes(buffer[:newline]).removesuffix(b"\r")
            del buffer[: newline + 1]  # cheap: bytearray trims its front in place
            scanned = 0
            if line:
                event = _field(line, event, data)
            elif data:
                yield ServerSentEvent(event, b"\n".join(data))
                event, data = None, []
            else:
                event = None
        scanned = len(buffer)
    # Be lenient with a last line or event that lacks its closing newline.
    if buffer:
        event = _field(bytes(buffer).removesuffix(b"\r"), event, data)
    if data:
        yield ServerSentEvent(event, b"\n".join(data))


def _field(line: bytes, event: str | None, data: list[bytes]) -> str | None:
    """Apply one ``field: value`` line; return the event name in force."""
    name, _, value = line.partition(b":")
    value = value.removeprefix(b" ")
    if name == b"data":
        data.append(value)
    elif name == b"event":
        return value.decode("utf-8", "replace")
    return event
