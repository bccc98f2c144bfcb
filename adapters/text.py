"""Fitting text into a platform's message limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def cut(text: str, limit: int) -> str:
    """``text``, ending in an ellipsis when it had to be shortened to ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, split at line breaks where possible."""
    chunks: list[str] = []
    while len(text) > limit:
        split = text.rfind("\n", 0, limit)
        split = split if split > limit // 2 else limit
        chunks.append(text[:split])
        text = text[split:].lstrip("\n")
    return [*chunks, text] if text else chunks or ["…"]


async def send_pieces(pieces: Sequence[str], send: Callable[[str, bool, bool], Awaitable[T]]) -> T:
    """Send ``pieces`` in order with ``send(piece, first, last)`` (the first replies, the last
    carries the buttons); what the last sending returned."""
    sent: T | None = None
    for index, piece in enumerate(pieces):
        sent = await send(piece, index == 0, index == len(pieces) - 1)
    assert sent is not None, "nothing to send"
    return sent
