"""The tables, in SQLAlchemy Core: what the repositories query and what Alembic
compares the migrations with. Only storage/ sees these; the engine gets plain records.

Plain ``Table`` definitions, not ORM models: nothing here needs an ORM, and
``sqlalchemy.orm`` would cost an idle bot a few MB of memory."""

from __future__ import annotations

import functools

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)

_metadata = MetaData()

UNFINISHED = "status IN ('queued', 'running')"
# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


turns = Table(
    "turns",
    _metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("parent_id", Id, ForeignKey("turns.id"), nullable=True, index=True),
    Column("parent_image", Integer, nullable=False, default=0),
    Column("platform", String(32), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("locale", String(16), nullable=True),
    Column("action", String(16), nullable=False, default="prompt"),
    Column("prompt", Text, nullable=False),
    Column("backend", String(16), nullable=False),
    Column("model", String(64), nullable=False),
    Column("params", JSON, nullable=False, default=dict),
    Column("state", JSON, nullable=False, default=dict),
    Column("status", String(16), nullable=False, index=True),
    Column("error_kind", String(32), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("request_id", String(128), nullable=True),
    Column("revised_prompt", Text, nullable=True),
    Column("cost_usd", Float, nullable=False, default=0.0),
    Column("input_blobs", JSON, nullable=False, default=list),
    Column("output_blobs", JSON, nullable=False, default=list),
    Column("inbound_message_id", String(64), nullable=True),
    # The process working on it: crash recovery leaves a live instance's turns alone.
    Column("instance_id", String(96), nullable=True),
    # The estimated cost held against the budgets while the turn runs.
    Column("reserved_usd", Float, nullable=False, default=0.0, server_default="0"),
    # The turn whose button made this one (regenerate, variations, retry): one press at a time.
    Column("source_turn_id", Id, nullable=True),
    # A region edit's mask (a blob id: a PNG, transparent where to change), kept for Retry.
    Column("mask_blob", String(64), nullable=True),
    # Set once its pictures are shown (their message keys stored): a done turn without it was
    # drawn and charged but never sent, and recovery sends it.
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_turns_chat", "platform", "chat_id", "created_at"),
    # uq_turns_one_press: see schema().
)

# One row per user message that started a turn: the unique key is exactly-once.
inbound_keys = Table(
    "inbound_keys",
    _metadata,
    Column("platform", String(32), primary_key=True),
    Column("chat_id", String(64), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("turn_id", Id, ForeignKey("turns.id"), nullable=False),
)

# Messages the bot sent, so a reply to any of them finds its turn.
message_keys = Table(
    "message_keys",
    _metadata,
    Column("platform", String(32), primary_key=True),
    Column("chat_id", String(64), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("turn_id", Id, ForeignKey("turns.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("image_index", Integer, nullable=True),
    # A region grid (kind "grid"): who opened it, and the cells chosen when they pressed Done.
    Column("user_id", String(64), nullable=True),
    Column("cells", String(16), nullable=True),
)

chat_settings = Table(
    "chat_settings",
    _metadata,
    Column("platform", String(32), primary_key=True),
    Column("chat_id", String(64), primary_key=True),
    Column("settings", JSON, nullable=False, default=dict),
    Column("latest_turn_id", Id, ForeignKey("turns.id"), nullable=True),
)

users = Table(
    "users",
    _metadata,
    Column("platform", String(32), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("allowed", Boolean, nullable=False, default=False),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("admin", Boolean, nullable=False, default=False),
    # The catalogue code chosen with /language ("de", "pt_BR"); NULL follows the platform's.
    Column("locale", String(16), nullable=True),
)

# The ledger: one charge per finished turn (turn_id is unique: never two charges).
ledger = Table(
    "usage_ledger",
    _metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("turn_id", Id, ForeignKey("turns.id"), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("images", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("turn_id", name="uq_usage_turn"),
    Index("ix_usage_user", "platform", "user_id", "created_at"),
    Index("ix_usage_chat", "platform", "chat_id", "created_at"),
)

# A running process. Its heartbeat is the lease on its unfinished turns.
instances = Table(
    "instances",
    _metadata,
    Column("id", String(96), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
)

# A platform update already taken by some instance: a redelivery is dropped. A message
# is kept here (``payload``) from the moment it is taken until it is handled, so a crash
# in between (a download, an album's wait) loses nothing: recovery handles it again.
deliveries = Table(
    "deliveries",
    _metadata,
    Column("platform", String(32), primary_key=True),
    Column("delivery_id", String(64), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False, index=True),
    Column("chat_id", String(64), nullable=True),
    Column("message_id", String(64), nullable=True),
    Column("payload", JSON, nullable=True),
    Column("instance_id", String(96), nullable=True),
    Column("handled", Boolean, nullable=False, default=True, server_default=true()),
)


@functools.cache
def schema() -> MetaData:
    """Every table and index, as the migrations build them (what Alembic compares).

    One index is added only here, on first use: its per-dialect WHERE makes SQLAlchemy
    load the PostgreSQL dialect, which a SQLite bot never needs otherwise. No query
    needs the index object (ON CONFLICT DO NOTHING takes any unique index)."""
    # The same user pressing the same button on the same turn while that drawing is still
    # queued or running is one press.
    Index(
        "uq_turns_one_press",
        turns.c.source_turn_id,
        turns.c.action,
        turns.c.user_id,
        unique=True,
        postgresql_where=text(UNFINISHED),
        sqlite_where=text(UNFINISHED),
    )
    return _metadata
