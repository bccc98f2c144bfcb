"""Chats: their settings and latest turn, the users (allowed, blocked, admin), and the
keys of the messages the bot sent (message → turn, what it shows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from bot.engine.records import ChatState, MessageKey, SentMessage, UserRecord
from storage import statements
from storage.tables import chat_settings, users


def chat_state(connection: Connection, platform: str, chat_id: str) -> ChatState:
    row = connection.execute(statements.CHAT_STATE, {"platform": platform, "chat_id": chat_id}).one_or_none()
    if row is None:
        return ChatState(platform, chat_id)
    return ChatState(platform, chat_id, dict(row.settings or {}), row.latest_turn_id)


def update_chat(
    connection: Connection,
    platform: str,
    chat_id: str,
    *,
    settings: dict[str, Any] | None,
    clear_latest: bool,
) -> ChatState:
    changes: dict[str, Any] = {}
    if settings is not None:
        changes["settings"] = settings
    if clear_latest:
        changes["latest_turn_id"] = None
    statement = statements.insert_for(connection, chat_settings).values(
        platform=platform, chat_id=chat_id, settings=settings or {}, latest_turn_id=None
    )
    if changes:
        statement = statement.on_conflict_do_update(index_elements=["platform", "chat_id"], set_=changes)
    else:
        statement = statement.on_conflict_do_nothing()
    connection.execute(statement)
    return chat_state(connection, platform, chat_id)


def set_latest_turn(connection: Connection, platform: str, chat_id: str, turn_id: int) -> None:
    """The turn a private follow-up in this chat continues."""
    connection.execute(
        statements.upserts_for(connection).latest_turn,
        {"platform": platform, "chat_id": chat_id, "turn_id": turn_id},
    )


def user(connection: Connection, platform: str, user_id: str) -> UserRecord | None:
    row = connection.execute(statements.USER, {"platform": platform, "user_id": user_id}).one_or_none()
    if row is None:
        return None
    return UserRecord(platform, user_id, row.allowed, row.blocked, row.admin, row.locale)


def context(
    connection: Connection, platform: str, chat_id: str, user_id: str
) -> tuple[ChatState, UserRecord | None]:
    """The chat's state and the user's record, in one round trip."""
    row = connection.execute(
        statements.CONTEXT, {"platform": platform, "chat_id": chat_id, "user_id": user_id}
    ).one()
    chat = ChatState(platform, chat_id)
    if row.chat_found:
        settings = row.settings if isinstance(row.settings, dict) else {}
        chat = ChatState(platform, chat_id, dict(settings), row.latest_turn_id)
    found = None
    if row.blocked is not None:
        found = UserRecord(
            platform, user_id, bool(row.allowed), bool(row.blocked), bool(row.admin), row.locale
        )
    return chat, found


def put_user(connection: Connection, record: UserRecord) -> None:
    flags = {
        "allowed": record.allowed,
        "blocked": record.blocked,
        "admin": record.admin,
        "locale": record.locale,
    }
    connection.execute(
        statements.insert_for(connection, users)
        .values(platform=record.platform, user_id=record.user_id, **flags)
        .on_conflict_do_update(index_elements=["platform", "user_id"], set_=flags)
    )


def record_messages(connection: Connection, messages: Sequence[SentMessage]) -> None:
    if not messages:
        return
    rows = [
        {
            "platform": m.key.platform,
            "chat_id": m.key.chat_id,
            "message_id": m.key.message_id,
            "turn_id": m.turn_id,
            "kind": m.kind,
            "image_index": m.image_index,
            "user_id": m.user_id,
            "cells": m.cells,
        }
        for m in messages
    ]
    connection.execute(statements.upserts_for(connection).upsert_messages, rows)


def sent_message(connection: Connection, key: MessageKey) -> SentMessage | None:
    row = connection.execute(
        statements.SENT_MESSAGE,
        {"platform": key.platform, "chat_id": key.chat_id, "message_id": key.message_id},
    ).one_or_none()
    if row is None:
        return None
    return SentMessage(key, row.turn_id, row.kind, row.image_index, row.user_id, row.cells)


def picture_message(connection: Connection, turn_id: int, image_index: int) -> MessageKey | None:
    row = connection.execute(
        statements.PICTURE_MESSAGE, {"turn_id": turn_id, "image_index": image_index}
    ).one_or_none()
    return MessageKey(row.platform, row.chat_id, row.message_id) if row is not None else None
