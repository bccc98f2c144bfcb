"""The engine's Store on SQLAlchemy Core, for SQLite and PostgreSQL.

A façade: each method runs one repository function (:mod:`storage.repositories`)
through a runner (:mod:`storage.group_commit`), in the way that suits it: a
transaction of its own, a group commit shared with other turns' writes, or, for a
read or a one-statement write, no transaction around it at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from bot.engine.records import ChatState, MessageKey, SentMessage, TurnRecord, UserRecord
from bot.engine.store import NewTurn, Outcome, Reception, SlotOutcome, SlotRequest, Stats
from storage.group_commit import Database, GroupCommit, open_database
from storage.repositories import chats, deliveries, instances, ledger, turns

T = TypeVar("T")


class SqlStore:
    def __init__(self, database: Database) -> None:
        self._run = database.run
        self._run_single = database.run_single
        self._batch_reads = database.batch_reads
        self._liveness = database.liveness
        self._writes = GroupCommit(database.run, database.writers)
        self._closed = False
        self._close = database.close

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqlStore:
        return cls(open_database(url, **options))

    async def _call(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(connection, *args)`` as one transaction."""
        result: T = await self._run(lambda connection: work(connection, *args))
        return result

    async def _write(self, work: Callable[..., T], *args: Any) -> T:
        """A write that may share its transaction with other turns' writes."""
        result: T = await self._writes.submit(lambda connection: work(connection, *args))
        return result

    async def _single(self, work: Callable[..., T], *args: Any) -> T:
        """Run a read, or a one-statement write, without a transaction around it; on
        SQLite, in the next group commit's (a burst's reads then cost one thread hop)."""
        if self._batch_reads:
            return await self._write(work, *args)
        result: T = await self._run_single(lambda connection: work(connection, *args))
        return result

    async def close(self) -> None:
        """Release the connections. Safe to call twice (a failed start, then the shutdown)."""
        if self._closed:
            return
        self._closed = True
        await self._liveness.close()
        await self._close()

    # --- turns ----------------------------------------------------------------

    async def create_turn(self, new: NewTurn) -> TurnRecord | None:
        # A redelivered inbound message returns None (ON CONFLICT, race-free on both
        # databases); any other integrity error is a real fault and must surface.
        return await self._write(turns.create_turn, new)

    async def get_turn(self, turn_id: int) -> TurnRecord | None:
        return await self._single(turns.get_turn, turn_id)

    async def lineage(self, turn_id: int) -> list[TurnRecord]:
        return await self._single(turns.lineage, turn_id)

    async def chat_tree(self, platform: str, chat_id: str, limit: int = 500) -> list[TurnRecord]:
        return await self._single(turns.chat_tree, platform, chat_id, limit)

    async def children_counts(self, turn_ids: Sequence[int]) -> dict[int, int]:
        return await self._single(turns.children_counts, turn_ids)

    async def claim_slot(self, turn_id: int, request: SlotRequest) -> SlotOutcome:
        result: SlotOutcome = await self._writes.submit(
            lambda connection: turns.claim_slot(connection, turn_id, request), first=True
        )
        return result

    async def finish_turn(
        self, turn_id: int, outcome: Outcome, messages: Sequence[SentMessage] = ()
    ) -> TurnRecord:
        return await self._write(turns.finish_turn, turn_id, outcome, messages)

    async def delivered(
        self, messages: Sequence[SentMessage], platform: str, chat_id: str, turn_id: int
    ) -> None:
        """The messages that show a turn's images, and the turn as the chat's latest: one transaction."""
        await self._write(turns.delivered, messages, platform, chat_id, turn_id)

    # --- instances and recovery -----------------------------------------------

    async def interrupt_unfinished(
        self, lease_s: float | None = None, instance_id: str | None = None
    ) -> list[TurnRecord]:
        return await self._call(instances.interrupt_unfinished, lease_s, self._liveness, instance_id)

    async def take_undelivered(self, instance_id: str, lease_s: float, kept_s: float) -> list[TurnRecord]:
        return await self._call(instances.take_undelivered, lease_s, self._liveness, instance_id, kept_s)

    async def heartbeat(self, instance_id: str) -> None:
        await self._liveness.hold(instance_id)
        await self._single(instances.heartbeat, instance_id)

    async def retire_instance(self, instance_id: str) -> None:
        await self._single(instances.retire, instance_id)
        await self._liveness.release(instance_id)

    async def abandon_instance(self, instance_id: str) -> None:
        await self._liveness.release(instance_id)

    async def prune(self, deliveries_kept_s: float, instances_kept_s: float) -> None:
        await self._call(instances.prune, deliveries_kept_s, instances_kept_s)

    # --- deliveries -------------------------------------------------------------

    async def claim_delivery(
        self, platform: str, delivery_id: str, reception: Reception | None = None
    ) -> bool:
        return (await self.claim_deliveries(platform, [(delivery_id, reception)]))[0]

    async def claim_deliveries(
        self, platform: str, claims: Sequence[tuple[str, Reception | None]]
    ) -> list[bool]:
        # Long polling brings up to 100 at once: one statement claims them all.
        return await self._write(deliveries.claim_deliveries, platform, list(claims))

    async def handled(self, platform: str, delivery_ids: Sequence[str]) -> None:
        if delivery_ids:
            await self._write(deliveries.handled, platform, delivery_ids)

    async def take_receptions(self, platform: str, instance_id: str, lease_s: float) -> list[Reception]:
        return await self._call(deliveries.take_receptions, platform, lease_s, self._liveness, instance_id)

    # --- the ledger ---------------------------------------------------------------

    async def stats(self, since: datetime) -> Stats:
        return await self._single(ledger.stats, since)

    async def spent_usd(
        self, platform: str, since: datetime, *, user_id: str | None = None, chat_id: str | None = None
    ) -> float:
        return (await self.usage(platform, since, user_id=user_id, chat_id=chat_id))[1]

    async def usage(
        self, platform: str, since: datetime, *, user_id: str | None = None, chat_id: str | None = None
    ) -> tuple[int, float]:
        return await self._single(ledger.usage, platform, since, user_id, chat_id)

    # --- chats, users and sent messages ------------------------------------------

    async def record_messages(self, messages: Sequence[SentMessage]) -> None:
        if messages:
            await self._write(chats.record_messages, messages)

    async def picture_message(self, turn_id: int, image_index: int = 0) -> MessageKey | None:
        return await self._single(chats.picture_message, turn_id, image_index)

    async def sent_message(self, key: MessageKey) -> SentMessage | None:
        return await self._single(chats.sent_message, key)

    async def chat_state(self, platform: str, chat_id: str) -> ChatState:
        return await self._single(chats.chat_state, platform, chat_id)

    async def update_chat(
        self,
        platform: str,
        chat_id: str,
        *,
        settings: dict[str, Any] | None = None,
        clear_latest: bool = False,
    ) -> ChatState:
        update = functools.partial(chats.update_chat, settings=settings, clear_latest=clear_latest)
        return await self._call(update, platform, chat_id)

    async def context(self, platform: str, chat_id: str, user_id: str) -> tuple[ChatState, UserRecord | None]:
        """The chat's state and the user's record, in one transaction."""
        return await self._single(chats.context, platform, chat_id, user_id)

    async def user(self, platform: str, user_id: str) -> UserRecord | None:
        return await self._single(chats.user, platform, user_id)

    async def put_user(self, record: UserRecord) -> None:
        await self._call(chats.put_user, record)
