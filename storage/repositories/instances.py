"""Instances and recovery: which instances are alive, heartbeats, and the sweeps that
take over what a dead instance left (unfinished turns, undelivered pictures)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, update
from sqlalchemy import true as sa_true

from bot.engine.records import TurnRecord, TurnStatus
from storage import clock, statements
from storage.liveness import Liveness
from storage.repositories.turns import turn_records
from storage.tables import deliveries, instances, turns


def live_instances(
    connection: Connection, lease_s: float, liveness: Liveness, instance_id: str | None
) -> list[str]:
    """Instances that are alive: a heartbeat within the lease and their lock still held
    (a crashed one lets its lock go at once). The caller itself is alive."""
    fresh = connection.execute(
        select(instances.c.id).where(instances.c.heartbeat_at >= clock.ago(connection, lease_s))
    ).scalars()
    others = {found for found in fresh if found != instance_id}
    alive = liveness.alive(connection, others)
    return sorted(alive | ({instance_id} if instance_id else set()))


def orphaned(
    connection: Connection, owner: Any, lease_s: float | None, liveness: Liveness, me: str | None
) -> Any:
    """A condition on rows whose instance (the ``owner`` column) is gone, or unknown."""
    if lease_s is None:
        return sa_true()
    return or_(owner.is_(None), owner.not_in(live_instances(connection, lease_s, liveness, me)))


def interrupt_unfinished(
    connection: Connection, lease_s: float | None, liveness: Liveness, instance_id: str | None
) -> list[TurnRecord]:
    unfinished = and_(
        turns.c.status.in_((TurnStatus.QUEUED.value, TurnStatus.RUNNING.value)),
        orphaned(connection, turns.c.instance_id, lease_s, liveness, instance_id),
    )
    # One UPDATE … RETURNING: when two instances sweep at once, each turn goes to one of them.
    rows = connection.execute(
        update(turns)
        .where(unfinished)
        .values(status=TurnStatus.INTERRUPTED.value, error_kind="interrupted", finished_at=clock.now())
        .returning(turns)
    ).all()
    return turn_records(rows)


def take_undelivered(
    connection: Connection, lease_s: float, liveness: Liveness, instance_id: str, kept_s: float
) -> list[TurnRecord]:
    """Done turns (drawn and charged) whose pictures a dead instance never showed: they
    become this instance's to send. Only recent ones: a chat is not sent week-old pictures."""
    rows = connection.execute(
        update(turns)
        .where(
            turns.c.status == TurnStatus.DONE.value,
            turns.c.delivered_at.is_(None),
            turns.c.finished_at >= clock.now() - timedelta(seconds=kept_s),
            orphaned(connection, turns.c.instance_id, lease_s, liveness, instance_id),
        )
        .values(instance_id=instance_id)
        .returning(turns)
    ).all()
    return turn_records(rows)


def heartbeat(connection: Connection, instance_id: str) -> None:
    moment = clock.on_server(connection)
    connection.execute(
        statements.insert_for(connection, instances)
        .values(id=instance_id, started_at=moment, heartbeat_at=moment)
        .on_conflict_do_update(index_elements=["id"], set_={"heartbeat_at": moment})
    )


def retire(connection: Connection, instance_id: str) -> None:
    connection.execute(delete(instances).where(instances.c.id == instance_id))


def prune(connection: Connection, deliveries_kept_s: float, instances_kept_s: float) -> None:
    """Forget old delivery claims and instances not heard from for long."""
    connection.execute(
        delete(deliveries).where(deliveries.c.seen_at < clock.ago(connection, deliveries_kept_s))
    )
    connection.execute(
        delete(instances).where(instances.c.heartbeat_at < clock.ago(connection, instances_kept_s))
    )
