"""Engines, SQLite's pragmas, migrations, and scratch schemas for tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic (and Mako) are imported only to migrate: a bot whose SQLite database is up to
# date starts without them in memory.
_REVISION = re.compile(r'^(down_)?revision: str(?: \| None)? = "?(\w+)"?', re.MULTILINE)


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
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if schema:
        config.attributes["schema"] = schema
    return config


async def upgrade(url: str, schema: str | None = None) -> None:
    """Bring the database to the newest revision (``redraw db upgrade``; SQLite does it on start).

    Alembic's env.py runs its own event loop, so it goes to a thread."""
    from alembic import command  # noqa: PLC0415

    await asyncio.to_thread(command.upgrade, alembic_config(url, schema), "head")


def head_revision() -> str:
    """The newest migration: the revision no other one follows (read from the files, as
    Alembic does, without loading Alembic)."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text()):
            (followed if down else revisions).add(value)
    [head] = revisions - followed
    return head


async def upgrade_sqlite(url: str) -> None:
    """SQLite migrates itself on start; when it is already at the newest revision, with one
    query and without loading Alembic."""
    path = make_url(url).database
    if path and path != ":memory:" and await asyncio.to_thread(_at_head, Path(path)):
        return
    await upgrade(url)


def _at_head(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == head_revision()


async def revision_status(url: str) -> tuple[str | None, str]:
    """(the database's migration revision, the newest one); None when it has none yet."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head() or ""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
    return current, head


def in_schema(schema: str) -> dict[str, Any]:
    """Engine options that put every PostgreSQL connection in ``schema``."""
    return {"connect_args": {"server_settings": {"search_path": schema}}}


@asynccontextmanager
async def scratch_schema(url: str, prefix: str = "redraw_scratch") -> AsyncIterator[str]:
    """A migrated PostgreSQL schema of its own, dropped afterwards (tests and benchmarks)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        await upgrade(url, schema)
        yield schema
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def scratch_database(url: str, prefix: str = "redraw_scratch") -> AsyncIterator[str]:
    """A migrated PostgreSQL database of its own, dropped afterwards: its URL, for
    whole bot processes (several instances) that take only a URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade(database_url)
        yield database_url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()
