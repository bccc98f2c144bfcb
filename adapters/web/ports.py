"""What the web pages ask of the engine, and the values they trade.

The server talks to the engine only through :class:`RegionEditor`; the composition root
implements it over the engine, the tests with an in-memory fake. Nothing here imports
aiohttp, so a platform adapter may build links (``adapters.web.links``) cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

Purpose = Literal["paint", "versions"]


@dataclass(frozen=True, slots=True)
class Claim:
    """What a signed token says: who (``user_id``) may do what (``purpose``) with which
    picture (``turn_id``, and which of its pictures: ``image_index``, for variations) of
    which chat, until when (``expires_at``, Unix seconds). ``locale`` is the user's
    language, for the texts the engine's errors carry."""

    purpose: Purpose
    platform: str
    chat_id: str
    user_id: str
    turn_id: int
    expires_at: int
    locale: str | None = None
    image_index: int = 0


@dataclass(frozen=True, slots=True)
class PictureInfo:
    """A picture to paint on: its original bytes and size, and the chat it belongs to."""

    data: bytes
    mime: str
    width: int
    height: int
    platform: str
    chat_id: str


@dataclass(frozen=True, slots=True)
class VersionNode:
    """One turn of a chat's tree. ``settings`` are shown as given (e.g. size, quality,
    model, backend); ``cost_usd`` is None while unknown; ``has_original`` says whether
    :meth:`RegionEditor.original` has a file for it."""

    turn_id: int
    parent_id: int | None
    prompt: str
    status: str
    created_at: datetime
    finished_at: datetime | None = None
    cost_usd: float | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    has_original: bool = False


class Original(NamedTuple):
    """A turn's original file, to download."""

    data: bytes
    mime: str
    filename: str


class RegionEditor(Protocol):
    """The engine, as the web pages see it."""

    async def picture(self, turn_id: int, image_index: int = 0) -> PictureInfo | None:
        """Picture ``image_index`` of those turn ``turn_id`` produced (the last, if it made
        fewer), or None when there is none."""
        ...

    async def submit_region(self, claim: Claim, text: str, mask_png: bytes, submission_id: str) -> None:
        """Make a turn like a reply to the picture would: a child of ``claim.turn_id`` in
        ``claim``'s chat, by ``claim.user_id``, replying to the picture, with ``text`` and
        the mask (a PNG the picture's size, transparent where to change, already checked).
        ``submission_id`` is the page's id for this submit: the same id twice (a browser
        that retries) must make one turn. Raises a ``bot.errors.RedrawError`` (e.g. an
        ``InputError``, a budget or limit refusal) whose message the page shows."""
        ...

    async def chat_tree(self, platform: str, chat_id: str) -> list[VersionNode]:
        """Every turn of the chat, in any order."""
        ...

    async def original(self, platform: str, chat_id: str, turn_id: int) -> Original | None:
        """Turn ``turn_id``'s original file, only when that turn belongs to the chat."""
        ...
