"""What the engine asks of storage. ``storage.sql.SqlStore`` implements it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
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
    # The instance that will run it (its heartbeat keeps other instances' recovery away).
    instance_id: str | None = None
    # Makes the turn once-only when ``inbound`` does not (a Retry: "retry:<turn id>").
    claim: str | None = None
    # The turn whose button made this one: the same user's press of the same button on it
    # is refused while this turn is queued or running.
    source_turn_id: int | None = None
    # A region edit's mask, as a blob id.
    mask_blob: str | None = None


@dataclass(frozen=True)
class Reception:
    """A message as the platform delivered it, kept from the moment it is taken until it
    is handled, so a crash in between loses nothing. ``payload`` is the adapter's own."""

    delivery_id: str
    chat_id: str
    message_id: str
    payload: dict[str, Any]
    instance_id: str | None = None


@dataclass(frozen=True)
class SlotRequest:
    """What a turn must fit before it may call the provider, checked across every
    instance at once: turns running per user, per chat and overall, and the budgets
    (spent in the ledger plus the estimates of running turns)."""

    per_user: int
    per_chat: int
    overall: int
    estimate_usd: float
    user_budget_usd: float | None = None
    user_since: datetime | None = None
    chat_budget_usd: float | None = None
    chat_since: datetime | None = None


class SlotStatus(StrEnum):
    CLAIMED = "claimed"
    # A limit is full; try again when a turn ends.
    BUSY = "busy"
    # The turn is no longer queued (cancelled, or taken by another instance's recovery).
    GONE = "gone"
    USER_BUDGET = "user_budget"
    CHAT_BUDGET = "chat_budget"


@dataclass(frozen=True)
class SlotOutcome:
    status: SlotStatus
    # BUSY: queued turns ahead of this one, on every instance.
    ahead: int = 0
    # Over a budget: what is spent and held in that budget's window.
    spent_usd: float = 0.0


@dataclass(frozen=True)
class Stats:
    """What happened since a moment (``redraw stats``)."""

    turns_by_status: dict[str, int]
    errors_by_kind: dict[str, int]
    images: int
    cost_usd: float
    by_platform: dict[str, tuple[int, float]]


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

    async def chat_tree(self, platform: str, chat_id: str, limit: int = 500) -> list[TurnRecord]:
        """A chat's drawn turns (done), oldest first: the newest ``limit`` of them (at most 500)."""

    async def children_counts(self, turn_ids: Sequence[int]) -> dict[int, int]:
        """How many finished (done) turns continue from each of ``turn_ids``; absent: none."""
        ...

    async def claim_slot(self, turn_id: int, request: SlotRequest) -> SlotOutcome:
        """queued → running when the turn fits every limit and budget, counted over all
        instances; atomic, so two instances can't both take the last slot."""
        ...

    async def finish_turn(
        self, turn_id: int, outcome: Outcome, messages: Sequence[SentMessage] = ()
    ) -> TurnRecord:
        """Write the outcome, its charge, and ``messages`` (e.g. the progress message) at once."""
        ...

    async def interrupt_unfinished(
        self, lease_s: float | None = None, instance_id: str | None = None
    ) -> list[TurnRecord]:
        """Queued or running turns whose instance is gone become interrupted; returns them.
        Gone: its liveness lock is free (it died), or no heartbeat within the last ``lease_s``
        seconds (it hangs), or it never registered. ``instance_id`` (the caller) is alive.
        With no ``lease_s``, every unfinished turn. The lease is measured on the clock the
        heartbeats are written with."""
        ...

    async def take_undelivered(self, instance_id: str, lease_s: float, kept_s: float) -> list[TurnRecord]:
        """Done turns finished within ``kept_s`` whose pictures an instance that is gone never
        showed: they become ``instance_id``'s to send."""
        ...

    async def heartbeat(self, instance_id: str) -> None:
        """Register the instance, or renew its lease on its turns; hold its liveness lock."""
        ...

    async def retire_instance(self, instance_id: str) -> None:
        """A clean stop: the instance, its lease and its lock are gone."""
        ...

    async def abandon_instance(self, instance_id: str) -> None:
        """Let the liveness lock go as the process's death would (a test's simulated crash)."""
        ...

    async def claim_delivery(
        self, platform: str, delivery_id: str, reception: Reception | None = None
    ) -> bool:
        """True the first time an update is seen by any instance, False for a redelivery.
        With a ``reception``, the message is kept until :meth:`handled`."""
        ...

    async def claim_deliveries(
        self, platform: str, claims: Sequence[tuple[str, Reception | None]]
    ) -> list[bool]:
        """:meth:`claim_delivery` for a batch at once, in its order."""
        ...

    async def handled(self, platform: str, delivery_ids: Sequence[str]) -> None:
        """These receptions became turns or were answered: nothing to recover."""
        ...

    async def take_receptions(self, platform: str, instance_id: str, lease_s: float) -> list[Reception]:
        """Receptions never handled by an instance that is gone: now ``instance_id``'s, oldest first."""
        ...

    async def prune(self, deliveries_kept_s: float, instances_kept_s: float) -> None:
        """Forget deliveries, and instances silent, for longer than these (on the clock they
        were written with)."""
        ...

    async def stats(self, since: datetime) -> Stats: ...

    async def record_messages(self, messages: Sequence[SentMessage]) -> None: ...

    async def delivered(
        self, messages: Sequence[SentMessage], platform: str, chat_id: str, turn_id: int
    ) -> None:
        """The messages showing a turn's images, and the turn as the chat's latest, at once."""
        ...

    async def picture_message(self, turn_id: int, image_index: int = 0) -> MessageKey | None:
        """A message that shows picture ``image_index`` of the turn (any one, if several do)."""
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
