"""Alembic environment: async engines (aiosqlite, asyncpg), run from storage.db.upgrade."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.tables import schema as tables_schema

config = context.config
schema: str | None = config.attributes.get("schema")


def run_migrations(connection: Connection) -> None:
    if schema:
        connection.execute(text(f'SET search_path TO "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=tables_schema(),
        render_as_batch=connection.dialect.name == "sqlite",
        version_table_schema=schema,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    options: dict[str, Any] = {}
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", **options)
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=tables_schema())
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async())
