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


def claim_delivery(
    connection: Connection, platform: str, delivery_id: str, reception: Reception | None
) -> bool:
    values: dict[str, Any] = {
        "platform": platform,
        "delivery_id": delivery_id,
        "seen_at": clock.on_server(connection),
    }
    if reception is not None:
        values.update(
            chat_id=reception.chat_id,
            message_id=reception.message_id,
            payload=reception.payload,
            instance_id=reception.instance_id,
            handled=False,
        )
    claimed = connection.execute(
        statements.insert_for(connection, deliveries).values(**values).on_conflict_do_nothing()
    )
    return bool(claimed.rowcount)


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
