"""The engine's Store on SQLAlchemy (SQLite with aiosqlite, PostgreSQL with asyncpg).

Every function opens its own short transaction and returns plain records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.engine.records import ChatState, MessageKey, SentMessage, TurnRecord, TurnStatus, UserRecord
from bot.engine.store import NewTurn, Outcome
from storage import models
from storage.db import create_engine, sessionmaker


def now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _turn(row: models.Turn) -> TurnRecord:
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
        created_at=_aware(row.created_at),
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at),
    )


class SqlStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = sessionmaker(engine)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqlStore:
        return cls(create_engine(url, **options))

    async def close(self) -> None:
        await self.engine.dispose()

    # --- turns -------------------------------------------------------------

    async def create_turn(self, new: NewTurn) -> TurnRecord | None:
        row = models.Turn(
            parent_id=new.parent_id,
            parent_image=new.parent_image,
            platform=new.platform,
            chat_id=new.chat_id,
            user_id=new.user_id,
            locale=new.locale,
            action=new.action,
            prompt=new.prompt,
            backend=new.backend,
            model=new.model,
            params=new.params,
            state={},
            status=TurnStatus.QUEUED.value,
            input_blobs=list(new.input_blobs),
            output_blobs=[],
            inbound_message_id=new.inbound.message_id if new.inbound else None,
            created_at=now(),
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()
                if new.inbound is not None:
                    key = new.inbound
                    session.add(
                        models.InboundKey(
                            platform=key.platform,
                            chat_id=key.chat_id,
                            message_id=key.message_id,
                            turn_id=row.id,
                        )
                    )
        except IntegrityError:
            return None  # this inbound message already has its turn
        return _turn(row)

    async def get_turn(self, turn_id: int) -> TurnRecord | None:
        async with self._sessions() as session:
            row = await session.get(models.Turn, turn_id)
            return _turn(row) if row is not None else None

    async def lineage(self, turn_id: int) -> list[TurnRecord]:
        chain: list[TurnRecord] = []
        async with self._sessions() as session:
            current: int | None = turn_id
            while current is not None and len(chain) < 1000:
                row = await session.get(models.Turn, current)
                if row is None:
                    break
                chain.append(_turn(row))
                current = row.parent_id
        return list(reversed(chain))

    async def mark_running(self, turn_id: int) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(models.Turn)
                .where(models.Turn.id == turn_id, models.Turn.status == TurnStatus.QUEUED.value)
                .values(status=TurnStatus.RUNNING.value, started_at=now())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish_turn(self, turn_id: int, outcome: Outcome) -> TurnRecord:
        async with self._sessions.begin() as session:
            row = await session.get(models.Turn, turn_id, with_for_update=True)
            if row is None:
                raise KeyError(turn_id)
            row.status = outcome.status.value
            row.state = outcome.state
            row.output_blobs = list(outcome.output_blobs)
            row.model = outcome.model or row.model
            row.cost_usd = outcome.cost_usd
            row.request_id = outcome.request_id
            row.revised_prompt = outcome.revised_prompt
            row.error_kind = outcome.error_kind
            row.error_message = outcome.error_message
            row.finished_at = now()
            if outcome.status is TurnStatus.DONE and outcome.cost_usd > 0:
                session.add(
                    models.UsageEntry(
                        turn_id=row.id,
                        platform=row.platform,
                        chat_id=row.chat_id,
                        user_id=row.user_id,
                        images=len(outcome.output_blobs),
                        cost_usd=outcome.cost_usd,
                        created_at=now(),
                    )
                )
            await session.flush()
            return _turn(row)

    async def interrupt_unfinished(self) -> list[TurnRecord]:
        unfinished = (TurnStatus.QUEUED.value, TurnStatus.RUNNING.value)
        async with self._sessions.begin() as session:
            rows = (
                await session.scalars(
                    select(models.Turn).where(models.Turn.status.in_(unfinished)).with_for_update()
                )
            ).all()
            for row in rows:
                row.status = TurnStatus.INTERRUPTED.value
                row.error_kind = "interrupted"
                row.finished_at = now()
            await session.flush()
            return [_turn(row) for row in rows]

    # --- messages ----------------------------------------------------------

    async def record_messages(self, messages: Sequence[SentMessage]) -> None:
        if not messages:
            return
        async with self._sessions.begin() as session:
            for message in messages:
                await session.merge(
                    models.MessageKey(
                        platform=message.key.platform,
                        chat_id=message.key.chat_id,
                        message_id=message.key.message_id,
                        turn_id=message.turn_id,
                        kind=message.kind,
                        image_index=message.image_index,
                    )
                )

    async def sent_message(self, key: MessageKey) -> SentMessage | None:
        async with self._sessions() as session:
            row = await session.get(models.MessageKey, (key.platform, key.chat_id, key.message_id))
            if row is None:
                return None
            return SentMessage(key, row.turn_id, row.kind, row.image_index)

    # --- usage -------------------------------------------------------------

    def _usage_filter(self, platform: str, since: datetime, user_id: str | None, chat_id: str | None) -> Any:
        conditions = [models.UsageEntry.platform == platform, models.UsageEntry.created_at >= since]
        if user_id is not None:
            conditions.append(models.UsageEntry.user_id == user_id)
        if chat_id is not None:
            conditions.append(models.UsageEntry.chat_id == chat_id)
        return and_(*conditions)

    async def spent_usd(
        self, platform: str, since: datetime, *, user_id: str | None = None, chat_id: str | None = None
    ) -> float:
        return (await self.usage(platform, since, user_id=user_id, chat_id=chat_id))[1]

    async def usage(
        self, platform: str, since: datetime, *, user_id: str | None = None, chat_id: str | None = None
    ) -> tuple[int, float]:
        query = select(
            func.coalesce(func.sum(models.UsageEntry.images), 0),
            func.coalesce(func.sum(models.UsageEntry.cost_usd), 0.0),
        ).where(self._usage_filter(platform, since, user_id, chat_id))
        async with self._sessions() as session:
            images, cost = (await session.execute(query)).one()
        return int(images), float(cost)

    # --- chats and users -----------------------------------------------------

    async def chat_state(self, platform: str, chat_id: str) -> ChatState:
        async with self._sessions() as session:
            row = await session.get(models.ChatSettings, (platform, chat_id))
            if row is None:
                return ChatState(platform, chat_id)
            return ChatState(platform, chat_id, dict(row.settings or {}), row.latest_turn_id)

    async def update_chat(
        self,
        platform: str,
        chat_id: str,
        *,
        settings: dict[str, Any] | None = None,
        latest_turn_id: int | None = None,
        clear_latest: bool = False,
    ) -> ChatState:
        for attempt in range(2):
            try:
                async with self._sessions.begin() as session:
                    row = await session.get(models.ChatSettings, (platform, chat_id), with_for_update=True)
                    if row is None:
                        row = models.ChatSettings(platform=platform, chat_id=chat_id, settings={})
                        session.add(row)
                    if settings is not None:
                        row.settings = settings
                    if latest_turn_id is not None:
                        row.latest_turn_id = latest_turn_id
                    if clear_latest:
                        row.latest_turn_id = None
                    await session.flush()
                    return ChatState(platform, chat_id, dict(row.settings or {}), row.latest_turn_id)
            except IntegrityError:
                if attempt:  # two first writes raced; the second try finds the row
                    raise
        raise AssertionError("unreachable")

    async def user(self, platform: str, user_id: str) -> UserRecord | None:
        async with self._sessions() as session:
            row = await session.get(models.User, (platform, user_id))
            if row is None:
                return None
            return UserRecord(platform, user_id, row.allowed, row.blocked, row.admin)

    async def put_user(self, record: UserRecord) -> None:
        async with self._sessions.begin() as session:
            await session.merge(
                models.User(
                    platform=record.platform,
                    user_id=record.user_id,
                    allowed=record.allowed,
                    blocked=record.blocked,
                    admin=record.admin,
                )
            )
