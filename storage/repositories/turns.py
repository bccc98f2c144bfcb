"""Turns: creating one (exactly once per inbound message or press), reading one and
its lineage, claiming a slot under the limits and budgets, finishing, delivering."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete

from bot.engine.records import MessageKey, SentMessage, TurnRecord, TurnStatus
from bot.engine.store import NewTurn, Outcome, SlotOutcome, SlotRequest, SlotStatus
from storage import clock, statements
from storage.repositories import chats, ledger
from storage.tables import turns


def turn_record(row: Row[Any]) -> TurnRecord:
    inbound = (
        MessageKey(row.platform, row.chat_id, row.inbound_message_id) if row.inbound_message_id else None
    )
    return TurnRecord(
        id=row.id,
        parent_id=row.parent_id,
        platform=row.platform,
        chat_id=row.chat_id,
        user_id=row.user_id,
        prompt=row.prompt,
        backend=row.backend,
        model=row.model,
        params=dict(row.params or {}),
        status=TurnStatus(row.status),
        action=row.action,
        inbound=inbound,
        locale=row.locale,
        state=dict(row.state or {}),
        parent_image=row.parent_image,
        input_blobs=list(row.input_blobs or []),
        output_blobs=list(row.output_blobs or []),
        error_kind=row.error_kind,
        error_message=row.error_message,
        request_id=row.request_id,
        revised_prompt=row.revised_prompt,
        cost_usd=row.cost_usd,
        created_at=clock.aware(row.created_at),
        started_at=clock.aware(row.started_at),
        finished_at=clock.aware(row.finished_at),
        mask_blob=row.mask_blob,
    )


def turn_records(rows: Sequence[Row[Any]]) -> list[TurnRecord]:
    """Rows of turns as records, oldest first."""
    return sorted((turn_record(row) for row in rows), key=lambda turn: turn.id)


def create_turn(connection: Connection, new: NewTurn) -> TurnRecord | None:
    values = {
        "parent_id": new.parent_id,
        "parent_image": new.parent_image,
        "platform": new.platform,
        "chat_id": new.chat_id,
        "user_id": new.user_id,
        "locale": new.locale,
        "action": new.action,
        "prompt": new.prompt,
        "backend": new.backend,
        "model": new.model,
        "params": new.params,
        "state": {},
        "status": TurnStatus.QUEUED.value,
        "cost_usd": 0.0,
        "input_blobs": list(new.input_blobs),
        "output_blobs": [],
        "inbound_message_id": new.inbound.message_id if new.inbound else None,
        "instance_id": new.instance_id,
        "source_turn_id": new.source_turn_id,
        "mask_blob": new.mask_blob,
        "reserved_usd": 0.0,
        "created_at": clock.now(),
    }
    upserts = statements.upserts_for(connection)
    row = connection.execute(upserts.insert_turn, values).one_or_none()
    if row is None:
        return None
    claim = new.claim or (new.inbound.message_id if new.inbound is not None else None)
    if claim is not None:
        claimed = connection.execute(
            upserts.claim_inbound,
            {"platform": new.platform, "chat_id": new.chat_id, "message_id": claim, "turn_id": row.id},
        )
        if not claimed.rowcount:
            # This inbound message (or press) already has its turn: take the new row back. (A
            # delete, not a rollback, so the statement can share a group commit with others.)
            connection.execute(delete(turns).where(turns.c.id == row.id))
            return None
    return turn_record(row)


def get_turn(connection: Connection, turn_id: int) -> TurnRecord | None:
    row = connection.execute(statements.TURN_BY_ID, {"turn_id": turn_id}).one_or_none()
    return turn_record(row) if row is not None else None


def lineage(connection: Connection, turn_id: int) -> list[TurnRecord]:
    """The turn and its parents, root first: one recursive query, not one per parent."""
    rows = connection.execute(statements.LINEAGE, {"turn_id": turn_id}).all()
    return [turn_record(row) for row in rows]


def chat_tree(connection: Connection, platform: str, chat_id: str, limit: int) -> list[TurnRecord]:
    """A chat's drawn turns (done), oldest first: the newest ``limit`` of them."""
    limit = min(limit, statements.CHAT_TREE_LIMIT)
    rows = connection.execute(
        statements.CHAT_TREE, {"platform": platform, "chat_id": chat_id, "limit": limit}
    )
    return [turn_record(row) for row in reversed(rows.all())]


def children_counts(connection: Connection, turn_ids: Sequence[int]) -> dict[int, int]:
    """How many done turns continue from each of ``turn_ids``: one grouped query."""
    if not turn_ids:
        return {}
    rows = connection.execute(statements.CHILDREN_COUNTS, {"turn_ids": list(turn_ids)}).all()
    return {int(row.parent_id): int(row.children) for row in rows}


def claim_slot(connection: Connection, turn_id: int, request: SlotRequest) -> SlotOutcome:
    if connection.dialect.name == "postgresql":
        connection.execute(statements.SLOT_LOCK)
    turn = connection.execute(statements.TURN_SCOPE, {"turn_id": turn_id}).one_or_none()
    if turn is None or turn.status != TurnStatus.QUEUED.value:
        return SlotOutcome(SlotStatus.GONE)
    scope = {"platform": turn.platform, "user_id": turn.user_id, "chat_id": turn.chat_id}
    overall, of_user, of_chat = connection.execute(statements.RUNNING_COUNTS, scope).one()
    if overall >= request.overall or of_user >= request.per_user or of_chat >= request.per_chat:
        ahead = connection.execute(statements.QUEUED_AHEAD, {"turn_id": turn_id}).scalar_one()
        return SlotOutcome(SlotStatus.BUSY, ahead=int(ahead))
    budgets = (
        (request.user_budget_usd, request.user_since, "user_id", SlotStatus.USER_BUDGET),
        (request.chat_budget_usd, request.chat_since, "chat_id", SlotStatus.CHAT_BUDGET),
    )
    for limit, since, column, refusal in budgets:
        if limit is None or since is None:
            continue
        spent = ledger.held_usd(connection, turn.platform, since, column, scope[column])
        if spent + request.estimate_usd > limit:
            return SlotOutcome(refusal, spent_usd=spent)
    connection.execute(
        statements.CLAIM,
        {"turn_id": turn_id, "started_at": clock.now(), "reserved_usd": request.estimate_usd},
    )
    return SlotOutcome(SlotStatus.CLAIMED)


def finish_turn(
    connection: Connection, turn_id: int, outcome: Outcome, messages: Sequence[SentMessage]
) -> TurnRecord:
    finished = clock.now()
    row = connection.execute(
        statements.FINISH_TURN,
        {
            "turn_id": turn_id,
            "status": outcome.status.value,
            "state": outcome.state,
            "output_blobs": list(outcome.output_blobs),
            "cost_usd": outcome.cost_usd,
            "request_id": outcome.request_id,
            "revised_prompt": outcome.revised_prompt,
            "error_kind": outcome.error_kind,
            "error_message": outcome.error_message,
            "finished_at": finished,
            "model": outcome.model,
        },
    ).one()
    if outcome.status is TurnStatus.DONE and outcome.cost_usd > 0:
        images = len(outcome.output_blobs)
        ledger.charge(connection, row, images=images, cost_usd=outcome.cost_usd, at=finished)
    chats.record_messages(connection, messages)
    return turn_record(row)


def delivered(
    connection: Connection, messages: Sequence[SentMessage], platform: str, chat_id: str, turn_id: int
) -> None:
    """The messages that show a turn's images, and the turn as the chat's latest."""
    chats.record_messages(connection, messages)
    chats.set_latest_turn(connection, platform, chat_id, turn_id)
    connection.execute(statements.DELIVERED, {"turn_id": turn_id, "delivered_at": clock.now()})
