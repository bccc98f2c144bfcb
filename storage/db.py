"""Engines, sessions and migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_engine(url: str, **options: Any) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **options)
        sqlite_pragmas(engine.sync_engine)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    # A stale connection fails one call and is replaced; pinging before every
    # transaction would cost a round trip each time.
    options.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **options)


def sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        # WAL: readers never block the writer; NORMAL sync is safe with WAL.
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def alembic_config(url: str, schema: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if schema:
        config.attributes["schema"] = schema
    return config


async def upgrade(url: str, schema: str | None = None) -> None:
    """Bring the database to the newest revision (``redraw db upgrade``; SQLite does it on start).

    Alembic's env.py runs its own event loop, so it goes to a thread."""
    await asyncio.to_thread(command.upgrade, alembic_config(url, schema), "head")
