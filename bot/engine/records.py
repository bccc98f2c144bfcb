"""Plain records shared by the engine and storage (storage returns these, never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class MessageKey:
    """Where a message lives. Adapters build these; the engine never parses them."""

    platform: str
    chat_id: str
    message_id: str


class TurnStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TurnRecord:
    id: int
    parent_id: int | None
    platform: str
    chat_id: str
    user_id: str
    prompt: str
    backend: str
    model: str
    params: dict[str, Any]
    status: TurnStatus
    # What produced it: "prompt", "regenerate", "variations", "retry".
    action: str = "prompt"
    inbound: MessageKey | None = None
    locale: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    # Which of the parent's outputs this turn continues from.
    parent_image: int = 0
    input_blobs: list[str] = field(default_factory=list)
    output_blobs: list[str] = field(default_factory=list)
    error_kind: str | None = None
    error_message: str | None = None
    request_id: str | None = None
    revised_prompt: str | None = None
    cost_usd: float = 0.0
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # A region edit's mask (a blob id: a PNG the parent's picture's size, transparent where to change).
    mask_blob: str | None = None


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent, and the turn (and output image) it shows."""

    key: MessageKey
    turn_id: int
    kind: str  # "image", "progress", "text", "file", "grid"
    image_index: int | None = None
    # A region grid: who opened it, and the cells chosen once they pressed Done
    # (:func:`bot.images.regions.encode_cells`; None before that).
    user_id: str | None = None
    cells: str | None = None


@dataclass(frozen=True)
class ChatState:
    platform: str
    chat_id: str
    settings: dict[str, Any] = field(default_factory=dict)
    # The turn a plain follow-up in a private chat continues; None after /new.
    latest_turn_id: int | None = None


@dataclass(frozen=True)
class UserRecord:
    platform: str
    user_id: str
    allowed: bool = False
    blocked: bool = False
    admin: bool = False
    # The catalogue code the user chose with /language; None follows the platform's.
    locale: str | None = None
