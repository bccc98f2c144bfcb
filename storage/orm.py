"""SQLAlchemy models. Only storage/ sees these; the engine gets plain records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


UNFINISHED = "status IN ('queued', 'running')"
# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Turn(Base):
    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    parent_id: Mapped[int | None] = mapped_column(Id, ForeignKey("turns.id"), index=True)
    parent_image: Mapped[int] = mapped_column(Integer, default=0)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16), default="prompt")
    prompt: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    revised_prompt: Mapped[str | None] = mapped_column(Text)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    input_blobs: Mapped[list[str]] = mapped_column(default=list)
    output_blobs: Mapped[list[str]] = mapped_column(default=list)
    inbound_message_id: Mapped[str | None] = mapped_column(String(64))
    # The process working on it: crash recovery leaves a live instance's turns alone.
    instance_id: Mapped[str | None] = mapped_column(String(96))
    # The estimated cost held against the budgets while the turn runs.
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # The turn whose button made this one (regenerate, variations, retry): one press at a time.
    source_turn_id: Mapped[int | None] = mapped_column(Id)
    # A region edit's mask (a blob id: a PNG, transparent where to change), kept for Retry.
    mask_blob: Mapped[str | None] = mapped_column(String(64), default=None)
    # Set once its pictures are shown (their message keys stored): a done turn without it was
    # drawn and charged but never sent, and recovery sends it.
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_turns_chat", "platform", "chat_id", "created_at"),
        # The same user pressing the same button on the same turn while that drawing is still
        # queued or running is one press.
        Index(
            "uq_turns_one_press",
            "source_turn_id",
            "action",
            "user_id",
            unique=True,
            postgresql_where=text(UNFINISHED),
            sqlite_where=text(UNFINISHED),
        ),
    )


class InboundKey(Base):
    """One row per user message that started a turn: the unique key is exactly-once."""

    __tablename__ = "inbound_keys"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    turn_id: Mapped[int] = mapped_column(Id, ForeignKey("turns.id"))


class MessageKey(Base):
    """Messages the bot sent, so a reply to any of them finds its turn."""

    __tablename__ = "message_keys"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    turn_id: Mapped[int] = mapped_column(Id, ForeignKey("turns.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    image_index: Mapped[int | None] = mapped_column(Integer)
    # A region grid (kind "grid"): who opened it, and the cells chosen when they pressed Done.
    user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    cells: Mapped[str | None] = mapped_column(String(16), default=None)


class ChatSettings(Base):
    __tablename__ = "chat_settings"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    latest_turn_id: Mapped[int | None] = mapped_column(Id, ForeignKey("turns.id"))


class User(Base):
    __tablename__ = "users"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    allowed: Mapped[bool] = mapped_column(default=False)
    blocked: Mapped[bool] = mapped_column(default=False)
    admin: Mapped[bool] = mapped_column(default=False)
    # The catalogue code chosen with /language ("de", "pt_BR"); NULL follows the platform's.
    locale: Mapped[str | None] = mapped_column(String(16), default=None)


class UsageEntry(Base):
    """The ledger: one charge per finished turn (turn_id is unique: never two charges)."""

    __tablename__ = "usage_ledger"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    turn_id: Mapped[int] = mapped_column(Id, ForeignKey("turns.id"))
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    images: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("turn_id", name="uq_usage_turn"),
        Index("ix_usage_user", "platform", "user_id", "created_at"),
        Index("ix_usage_chat", "platform", "chat_id", "created_at"),
    )


class Instance(Base):
    """A running process. Its heartbeat is the lease on its unfinished turns."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """A platform update already taken by some instance: a redelivery is dropped. A message
    is kept here (``payload``) from the moment it is taken until it is handled, so a crash
    in between (a download, an album's wait) loses nothing: recovery handles it again."""

    __tablename__ = "deliveries"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    chat_id: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    instance_id: Mapped[str | None] = mapped_column(String(96))
    handled: Mapped[bool] = mapped_column(default=True, server_default=true())
