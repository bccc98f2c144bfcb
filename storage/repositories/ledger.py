"""The usage ledger: one charge per finished turn, what was spent, and the stats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, select

from bot.engine.records import TurnStatus
from bot.engine.store import Stats
from storage import statements
from storage.tables import ledger, turns


def charge(connection: Connection, turn: Row[Any], *, images: int, cost_usd: float, at: datetime) -> None:
    """Charge a finished turn. uq_usage_turn makes a second charge for the same turn impossible."""
    connection.execute(
        statements.INSERT_CHARGE,
        {
            "turn_id": turn.id,
            "platform": turn.platform,
            "chat_id": turn.chat_id,
            "user_id": turn.user_id,
            "images": images,
            "cost_usd": cost_usd,
            "created_at": at,
        },
    )


def usage(
    connection: Connection,
    platform: str,
    since: datetime,
    user_id: str | None = None,
    chat_id: str | None = None,
) -> tuple[int, float]:
    """Images and dollars charged since ``since`` on a platform, for one user or chat if named."""
    conditions = [ledger.c.platform == platform, ledger.c.created_at >= since]
    if user_id is not None:
        conditions.append(ledger.c.user_id == user_id)
    if chat_id is not None:
        conditions.append(ledger.c.chat_id == chat_id)
    images, cost = connection.execute(
        select(
            func.coalesce(func.sum(ledger.c.images), 0), func.coalesce(func.sum(ledger.c.cost_usd), 0.0)
        ).where(and_(*conditions))
    ).one()
    return int(images), float(cost)


def held_usd(connection: Connection, platform: str, since: datetime, column: str, value: str) -> float:
    """Spent in the ledger since ``since``, plus what running turns hold, for one user or chat."""
    _, charged = usage(connection, platform, since, **{column: value})
    held = connection.execute(
        select(func.coalesce(func.sum(turns.c.reserved_usd), 0.0)).where(
            statements.RUNNING, turns.c.platform == platform, turns.c[column] == value
        )
    ).scalar_one()
    return charged + float(held)


def stats(connection: Connection, since: datetime) -> Stats:
    by_status = connection.execute(
        select(turns.c.status, func.count()).where(turns.c.created_at >= since).group_by(turns.c.status)
    ).all()
    failed = (TurnStatus.FAILED.value, TurnStatus.INTERRUPTED.value)
    by_kind = connection.execute(
        select(turns.c.error_kind, func.count())
        .where(turns.c.created_at >= since, turns.c.status.in_(failed))
        .group_by(turns.c.error_kind)
    ).all()
    by_platform = connection.execute(
        select(ledger.c.platform, func.sum(ledger.c.images), func.sum(ledger.c.cost_usd))
        .where(ledger.c.created_at >= since)
        .group_by(ledger.c.platform)
    ).all()
    platforms = {row[0]: (int(row[1]), float(row[2])) for row in by_platform}
    return Stats(
        turns_by_status={row[0]: int(row[1]) for row in by_status},
        errors_by_kind={row[0] or "unknown": int(row[1]) for row in by_kind},
        images=sum(images for images, _ in platforms.values()),
        cost_usd=sum(cost for _, cost in platforms.values()),
        by_platform=platforms,
    )
