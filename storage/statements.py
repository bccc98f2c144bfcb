"""The hot path's statements, built once with bind parameters: building a statement
object costs more CPU than running it on a warm connection.

Statements that use ON CONFLICT differ by dialect; :func:`upserts_for` builds them
once for each dialect and hands them back as one typed record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    Integer,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import ReturningInsert

from bot.engine.records import TurnStatus
from storage.tables import chat_settings, inbound_keys, ledger, message_keys, turns, users

# How far up a turn's parents a lineage goes.
LINEAGE_LIMIT = 1000

TURN_BY_ID = select(turns).where(turns.c.id == bindparam("turn_id"))
# A turn and its parents in one query, root first (nearest LINEAGE_LIMIT turns only).
_anchor = (
    select(turns.c.id, turns.c.parent_id, literal_column("1", Integer).label("depth"))
    .where(turns.c.id == bindparam("turn_id"))
    .cte("chain", recursive=True)
)
_parent = turns.alias("parent")
_chain = _anchor.union_all(
    select(_parent.c.id, _parent.c.parent_id, _anchor.c.depth + 1).where(
        _parent.c.id == _anchor.c.parent_id, _anchor.c.depth < LINEAGE_LIMIT
    )
)
LINEAGE = select(turns).join(_chain, turns.c.id == _chain.c.id).order_by(_chain.c.depth.desc())
# The done children of some turns (a lineage's branches), counted per parent.
CHILDREN_COUNTS = (
    select(turns.c.parent_id, func.count().label("children"))
    .where(
        turns.c.parent_id.in_(bindparam("turn_ids", expanding=True)),
        turns.c.status == TurnStatus.DONE.value,
    )
    .group_by(turns.c.parent_id)
)

# Slot claims from every instance take this lock first, so two can't both count
# a limit as not yet full and both take its last place.
SLOT_LOCK = text("SELECT pg_advisory_xact_lock(5391648327)")
# A chat's drawn versions, newest CHAT_TREE_LIMIT (the versions page).
CHAT_TREE_LIMIT = 500
CHAT_TREE = (
    select(turns)
    .where(
        turns.c.platform == bindparam("platform"),
        turns.c.chat_id == bindparam("chat_id"),
        turns.c.status == "done",
    )
    .order_by(turns.c.id.desc())
    .limit(bindparam("limit"))
)

TURN_SCOPE = select(turns.c.platform, turns.c.user_id, turns.c.chat_id, turns.c.status).where(
    turns.c.id == bindparam("turn_id")
)
RUNNING = turns.c.status == TurnStatus.RUNNING.value
RUNNING_COUNTS = select(
    func.count(),
    func.count().filter(turns.c.platform == bindparam("platform"), turns.c.user_id == bindparam("user_id")),
    func.count().filter(turns.c.platform == bindparam("platform"), turns.c.chat_id == bindparam("chat_id")),
).where(RUNNING)
QUEUED_AHEAD = select(func.count()).where(
    turns.c.status == TurnStatus.QUEUED.value, turns.c.id < bindparam("turn_id")
)
CLAIM = (
    update(turns)
    .where(turns.c.id == bindparam("turn_id"), turns.c.status == TurnStatus.QUEUED.value)
    .values(
        status=TurnStatus.RUNNING.value,
        started_at=bindparam("started_at"),
        reserved_usd=bindparam("reserved_usd"),
    )
)
FINISH_TURN = (
    update(turns)
    .where(turns.c.id == bindparam("turn_id"))
    .values(
        status=bindparam("status"),
        state=bindparam("state"),
        output_blobs=bindparam("output_blobs"),
        cost_usd=bindparam("cost_usd"),
        request_id=bindparam("request_id"),
        revised_prompt=bindparam("revised_prompt"),
        error_kind=bindparam("error_kind"),
        error_message=bindparam("error_message"),
        finished_at=bindparam("finished_at"),
        model=func.coalesce(bindparam("model", type_=turns.c.model.type), turns.c.model),
    )
    .returning(turns)
)
INSERT_CHARGE = insert(ledger)
DELIVERED = (
    update(turns)
    .where(turns.c.id == bindparam("turn_id"), turns.c.delivered_at.is_(None))
    .values(delivered_at=bindparam("delivered_at"))
)
# A message that shows a turn's picture (index) in its chat: where an answer about it goes.
PICTURE_MESSAGE = (
    select(message_keys.c.platform, message_keys.c.chat_id, message_keys.c.message_id)
    .where(
        message_keys.c.turn_id == bindparam("turn_id"),
        message_keys.c.kind == "image",
        message_keys.c.image_index == bindparam("image_index"),
    )
    .limit(1)
)
SENT_MESSAGE = select(
    message_keys.c.turn_id,
    message_keys.c.kind,
    message_keys.c.image_index,
    message_keys.c.user_id,
    message_keys.c.cells,
).where(
    message_keys.c.platform == bindparam("platform"),
    message_keys.c.chat_id == bindparam("chat_id"),
    message_keys.c.message_id == bindparam("message_id"),
)
CHAT_STATE = select(chat_settings.c.settings, chat_settings.c.latest_turn_id).where(
    chat_settings.c.platform == bindparam("platform"), chat_settings.c.chat_id == bindparam("chat_id")
)
USER = select(users.c.allowed, users.c.blocked, users.c.admin, users.c.locale).where(
    users.c.platform == bindparam("platform"), users.c.user_id == bindparam("user_id")
)
_CHAT_WHERE = (
    chat_settings.c.platform == bindparam("platform"),
    chat_settings.c.chat_id == bindparam("chat_id"),
)
_USER_WHERE = (users.c.platform == bindparam("platform"), users.c.user_id == bindparam("user_id"))
# The chat's state and the user's record in one round trip (unrelated tables: scalar subqueries).
CONTEXT = select(
    select(chat_settings.c.settings).where(*_CHAT_WHERE).scalar_subquery().label("settings"),
    select(chat_settings.c.latest_turn_id).where(*_CHAT_WHERE).scalar_subquery().label("latest_turn_id"),
    select(func.count()).select_from(chat_settings).where(*_CHAT_WHERE).scalar_subquery().label("chat_found"),
    select(users.c.allowed).where(*_USER_WHERE).scalar_subquery().label("allowed"),
    select(users.c.blocked).where(*_USER_WHERE).scalar_subquery().label("blocked"),
    select(users.c.admin).where(*_USER_WHERE).scalar_subquery().label("admin"),
    select(users.c.locale).where(*_USER_WHERE).scalar_subquery().label("locale"),
)


def insert_for(connection: Connection, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT, for the connection's database."""
    return _insert_of(connection.dialect.name)(table)


def _insert_of(dialect: str) -> Callable[[Any], Any]:
    if dialect == "postgresql":
        # Imported here: a SQLite bot never loads the PostgreSQL dialect.
        from sqlalchemy.dialects.postgresql import insert  # noqa: PLC0415

        return insert
    return sqlite_insert


@dataclass(frozen=True)
class UpsertStatements:
    """The ON CONFLICT statements of one dialect."""

    claim_inbound: Insert
    # Nothing inserted when the same user's press of the same button on the same turn
    # is still queued or running (uq_turns_one_press): a double tap is one press.
    insert_turn: ReturningInsert[Any]
    upsert_messages: Insert
    latest_turn: Insert


def upserts_for(connection: Connection) -> UpsertStatements:
    return _upserts(connection.dialect.name)


@functools.cache
def _upserts(dialect: str) -> UpsertStatements:
    new = _insert_of(dialect)
    messages = new(message_keys)
    return UpsertStatements(
        claim_inbound=new(inbound_keys).on_conflict_do_nothing(),
        insert_turn=new(turns).on_conflict_do_nothing().returning(turns),
        upsert_messages=messages.on_conflict_do_update(
            index_elements=["platform", "chat_id", "message_id"],
            set_={
                "turn_id": messages.excluded.turn_id,
                "kind": messages.excluded.kind,
                "image_index": messages.excluded.image_index,
                "user_id": messages.excluded.user_id,
                "cells": messages.excluded.cells,
            },
        ),
        latest_turn=new(chat_settings)
        .values(
            platform=bindparam("platform"),
            chat_id=bindparam("chat_id"),
            settings={},
            latest_turn_id=bindparam("turn_id"),
        )
        .on_conflict_do_update(
            index_elements=["platform", "chat_id"], set_={"latest_turn_id": bindparam("turn_id")}
        ),
    )
