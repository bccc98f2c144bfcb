"""Platform updates: claimed once across instances, kept whole until handled (a
reception), and taken over from a dead instance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, update

from bot.engine.store import Reception
from storage import clock, statements
from storage.liveness import Liveness
from storage.repositories.instances import orphaned
from storage.tables import deliveries


def claim_deliveries(
    connection: Connection, platform: str, claims: Sequence[tuple[str, Reception | None]]
) -> list[bool]:
    """One statement for a whole batch (a long poll's 100 updates): the ids inserted come
    back (RETURNING), the ones another instance holds already do not."""
    rows: list[dict[str, Any]] = []
    for delivery_id, reception in claims:
        row: dict[str, Any] = {
            "platform": platform,
            "delivery_id": delivery_id,
            "chat_id": None,
            "message_id": None,
            "payload": None,
            "instance_id": None,
            "handled": True,
        }
        if reception is not None:
            row.update(
                chat_id=reception.chat_id,
                message_id=reception.message_id,
                payload=reception.payload,
                instance_id=reception.instance_id,
                handled=False,
            )
        rows.append(row)
    statement = (
        statements.insert_for(connection, deliveries)
        .values(seen_at=clock.on_server(connection))
        .on_conflict_do_nothing()
        .returning(deliveries.c.delivery_id)
    )
    taken = set(connection.execute(statement, rows).scalars()) if rows else set()
    firsts = []
    for delivery_id, _ in claims:
        # The same id twice in one batch: only the first is new.
        firsts.append(delivery_id in taken)
        taken.discard(delivery_id)
    return firsts


def handled(connection: Connection, platform: str, delivery_ids: Sequence[str]) -> None:
    connection.execute(
        update(deliveries)
        .where(deliveries.c.platform == platform, deliveries.c.delivery_id.in_(list(delivery_ids)))
        .values(handled=True, payload=None)
    )


def take_receptions(
    connection: Connection, platform: str, lease_s: float, liveness: Liveness, instance_id: str
) -> list[Reception]:
    rows = connection.execute(
        update(deliveries)
        .where(
            deliveries.c.platform == platform,
            deliveries.c.handled.is_(False),
            orphaned(connection, deliveries.c.instance_id, lease_s, liveness, instance_id),
        )
        .values(instance_id=instance_id)
        .returning(deliveries)
    ).all()
    return [
        Reception(
            row.delivery_id, row.chat_id or "", row.message_id or "", dict(row.payload or {}), instance_id
        )
        for row in sorted(rows, key=lambda row: (clock.aware(row.seen_at) or clock.now(), row.delivery_id))
    ]
