"""What the engine asks of storage. ``storage.sql.SqlStore`` implements it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.engine.records import ChatState, MessageKey, SentMessage, TurnRecord, TurnStatus, UserRecord


@dataclass(frozen=True)
class NewTurn:
    platform: str
    chat_id: str
    user_id: str
    prompt: str
    backend: str
    model: str
    params: dict[str, Any]
    action: str = "prompt"
    parent_id: int | None = None
    parent_image: int = 0
    inbound: MessageKey | None = None
    locale: str | None = None
    input_blobs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """How a turn ended. A charge is written to the ledger in the same transaction."""

    status: TurnStatus
    state: dict[str, Any] = field(default_factory=dict)
    output_blobs: list[str] = field(default_factory=list)
    model: str | None = None
    cost_usd: float = 0.0
    request_id: str | None = None
    revised_prompt: str | None = None
    error_kind: str | None = None
    error_message: str | None = None


class Store(Protocol):
    async def create_turn(self, new: NewTurn) -> TurnRecord | None:
        """Store a queued turn. With ``new.inbound`` set, return None when that inbound
        message already has a turn (a redelivered update): it must not run twice."""
        ...

    async def get_turn(self, turn_id: int) -> TurnRecord | None: ...

    async def lineage(self, turn_id: int) -> list[TurnRecord]:
        """The turn and its ancestors, root first."""
        ...

    async def mark_running(self, turn_id: int) -> bool:
        """queued → running; False when the turn is no longer queued (cancelled)."""
        ...

    async def finish_turn(
        self, turn_id: int, outcome: Outcome, messages: Sequence[SentMessage] = ()
    ) -> TurnRecord:
        """Write the outcome, its charge, and ``messages`` (e.g. the progress message) at once."""
        ...

    async def interrupt_unfinished(self) -> list[TurnRecord]:
        """On start: every queued or running turn becomes interrupted; returns them."""
        ...

    async def record_messages(self, messages: Sequence[SentMessage]) -> None: ...

    async def delivered(
        self, messages: Sequence[SentMessage], platform: str, chat_id: str, turn_id: int
    ) -> None:
        """The messages showing a turn's images, and the turn as the chat's latest, at once."""
        ...

    async def sent_message(self, key: MessageKey) -> SentMessage | None: ...

    async def spent_usd(
        self, platform: str, since: datetime, *, user_id: str | None = None, chat_id: str | None = None
    ) -> float: ...

    async def usage(
        self, platform: str, since: datetime, *, user_id: str | None = None, chat_id: str | None = None
    ) -> tuple[int, float]:
        """(images, USD) charged since ``since``."""
        ...

    async def chat_state(self, platform: str, chat_id: str) -> ChatState: ...

    async def update_chat(
        self,
        platform: str,
        chat_id: str,
        *,
        settings: dict[str, Any] | None = None,
        clear_latest: bool = False,
    ) -> ChatState:
        """Save the chat's settings, or forget its latest turn (/new). ``delivered`` sets it."""
        ...

    async def context(self, platform: str, chat_id: str, user_id: str) -> tuple[ChatState, UserRecord | None]:
        """The chat's state and the user's record, read together."""
        ...

    async def user(self, platform: str, user_id: str) -> UserRecord | None: ...

    async def put_user(self, record: UserRecord) -> None: ...
