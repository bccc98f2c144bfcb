"""JSON bodies that carry multi-megabyte base64 images, handled without stalling the loop.

``json.loads`` / ``json.dumps`` over a 4K image hold the GIL for tens of
milliseconds in one C call, so even from a worker thread they stall the event
loop. Instead, big string literals are cut out of the raw bytes (a few
``bytes.find`` calls, memchr-fast) and handed back as :class:`LargeString`
views; only the small remainder goes through the json module. Outgoing bodies
are built the other way round: placeholders in a small JSON document, spliced
with the big base64 bytes.

All functions are synchronous: run them in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.errors import MalformedResponse

LIFT_THRESHOLD = 64 * 1024
_PLACEHOLDER = "\u0000lifted:"
# The placeholder as it appears inside JSON text (NUL must be escaped there).
_PLACEHOLDER_JSON = b"\\u0000lifted:"


class LargeString:
    """A JSON string value kept as a slice of the raw (still escaped) body."""

    __slots__ = ("end", "source", "start")

    def __init__(self, source: bytes, start: int, end: int) -> None:
        self.source = source
        self.start = start
        self.end = end

    def __len__(self) -> int:
        return self.end - self.start

    def _escaped(self) -> bool:
        return self.source.find(b"\\", self.start, self.end) >= 0

    def as_bytes(self) -> bytes | memoryview:
        """The decoded value as bytes; copies only when the JSON escaped something."""
        if not self._escaped():
            return memoryview(self.source)[self.start : self.end]
        return self.as_str().encode("utf-8")

    def as_str(self) -> str:
        raw = self.source[self.start : self.end]
        return str(raw, "utf-8") if not self._escaped() else str(json.loads(b'"' + raw + b'"'))

    def __repr__(self) -> str:
        return f"LargeString({len(self)} bytes)"


Payload = str | bytes | memoryview | LargeString


def unwrap(value: Payload) -> str | bytes | memoryview:
    """A payload's bytes (or text). Scans megabytes: call it on the image pool."""
    return value.as_bytes() if isinstance(value, LargeString) else value


def loads(raw: bytes, threshold: int = LIFT_THRESHOLD) -> Any:
    """Parse JSON, returning string values longer than ``threshold`` bytes as LargeString."""
    small, lifted = _lift(raw, threshold)
    try:
        document = json.loads(small)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedResponse(f"the provider's response is not valid JSON: {exc}") from None
    return _restore(document, lifted) if lifted else document


def _lift(raw: bytes, threshold: int) -> tuple[bytes, list[LargeString]]:
    view = memoryview(raw)
    pieces: list[bytes | memoryview] = []
    lifted: list[LargeString] = []
    copied_to = 0
    position = 0
    while True:
        start = raw.find(b'"', position)
        if start < 0:
            break
        end = _closing_quote(raw, start + 1)
        if end < 0:
            break  # unterminated: let json.loads report it
        if end - start - 1 >= threshold:
            pieces.append(view[copied_to:start])
            pieces.append(b'"' + _PLACEHOLDER_JSON + str(len(lifted)).encode() + b'"')
            lifted.append(LargeString(raw, start + 1, end))
            copied_to = end + 1
        position = end + 1
    if not lifted:
        return raw, lifted
    pieces.append(view[copied_to:])
    return b"".join(pieces), lifted


def _closing_quote(raw: bytes, position: int) -> int:
    while True:
        end = raw.find(b'"', position)
        if end < 0:
            return end
        backslashes = 0
        while raw[end - 1 - backslashes] == 0x5C:
            backslashes += 1
        if backslashes % 2 == 0:
            return end
        position = end + 1


def _restore(node: Any, lifted: Sequence[LargeString]) -> Any:
    if isinstance(node, str):
        if node.startswith(_PLACEHOLDER):
            return lifted[int(node[len(_PLACEHOLDER) :])]
        return node
    if isinstance(node, dict):
        return {key: _restore(value, lifted) for key, value in node.items()}
    if isinstance(node, list):
        return [_restore(value, lifted) for value in node]
    return node


class Splice:
    """Marks where a big ASCII value (a base64 data URL) goes in an outgoing JSON body."""

    __slots__ = ("value",)

    def __init__(self, value: bytes) -> None:
        self.value = value


def dumps(document: Any) -> bytes:
    """Serialize a body whose Splice values are written verbatim as JSON strings.

    Splice values must not need JSON escaping (base64 and data URLs never do).
    """
    spliced: list[bytes] = []

    def mark(node: Any) -> Any:
        if isinstance(node, Splice):
            spliced.append(node.value)
            return f"{_PLACEHOLDER}{len(spliced) - 1}"
        if isinstance(node, dict):
            return {key: mark(value) for key, value in node.items()}
        if isinstance(node, list | tuple):
            return [mark(value) for value in node]
        return node

    small = json.dumps(mark(document), ensure_ascii=False).encode("utf-8")
    if not spliced:
        return small
    pieces: list[bytes] = []
    position = 0
    for index, value in enumerate(spliced):
        token = b'"' + _PLACEHOLDER_JSON + str(index).encode() + b'"'
        at = small.index(token, position)
        pieces += [small[position:at], b'"', value, b'"']
        position = at + len(token)
    pieces.append(small[position:])
    return b"".join(pieces)
