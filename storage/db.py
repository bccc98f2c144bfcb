"""Engines, SQLite's pragmas, migrations, what a database failure means for the
operator, and scratch schemas for tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from bot.errors import DatabaseUnusable
from bot.telemetry.redaction import hide_url_passwords

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic (and Mako) are imported only to migrate: a bot whose SQLite database is up to
# date starts without them in memory.
_REVISION = re.compile(r'^(down_)?revision: str(?: \| None)? = "?(\w+)"?', re.MULTILINE)
NOT_MIGRATED = "the database is not migrated: run `redraw db upgrade`"


def create_engine(url: str, **options: Any) -> AsyncEngine:
    # Imported here: it loads sqlalchemy.orm, and a SQLite bot runs on a sync engine (group_commit).
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

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


@dataclass(frozen=True)
class Schema:
    """Where a database's migrations stand against this version's."""

    current: str | None
    head: str
    # ``current`` is one of this version's revisions; a newer version's otherwise.
    known: bool

    @property
    def problem(self) -> str | None:
        """Why this version can't run on it (None: it can). Migrations only add, so a
        schema a newer version migrated still serves this one."""
        if self.current is None:
            return NOT_MIGRATED
        if self.known and self.current != self.head:
            return (
                f"the database is at revision {self.current}, this version needs {self.head}: "
                "run `redraw db upgrade`"
            )
        return None


async def schema_of(url: str) -> Schema:
    """The database's migration state; DatabaseUnusable (one line) when it can't be read."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    script = ScriptDirectory.from_config(alembic_config(url))
    engine = create_engine_for(url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    except Exception as error:
        raise DatabaseUnusable(explain(error, url)) from error
    finally:
        await engine.dispose()
    known = current is None or any(rev.revision == current for rev in script.walk_revisions())
    return Schema(current, script.get_current_head() or "", known)


@dataclass(frozen=True)
class Upgraded:
    before: str | None
    after: str
    # Oldest first.
    applied: tuple[str, ...]


async def migrate(url: str) -> Upgraded:
    """``redraw db upgrade``: bring the database to the newest revision and say what that took."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    before = await schema_of(url)
    if not before.known:
        raise DatabaseUnusable(
            f"the database is at revision {before.current}, newer than this version's {before.head}: "
            "run the newer Redraw"
        )
    try:
        await upgrade(url)
    except Exception as error:
        raise DatabaseUnusable(explain(error, url)) from error
    script = ScriptDirectory.from_config(alembic_config(url))
    applied = [rev.revision for rev in script.iterate_revisions(before.head, before.current or "base")]
    if before.current is not None:
        applied = [revision for revision in applied if revision != before.current]
    return Upgraded(before.current, before.head, tuple(reversed(applied)))


def create_engine_for(url: str) -> AsyncEngine:
    """An engine, or DatabaseUnusable when even that fails (a SQLite directory that can't be made)."""
    try:
        return create_engine(url)
    except OSError as error:
        raise DatabaseUnusable(explain(error, url)) from error


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def explain(error: BaseException, url: str) -> str:
    """One line for the operator: what went wrong with the database at ``url`` and what to do.
    Never the password, never a traceback or SQL."""
    parsed = make_url(url)
    name, host = parsed.database, f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    sqlite = parsed.get_backend_name() == "sqlite"
    for cause in _causes(error):
        kind = type(cause).__name__
        text = str(cause)
        if kind == "InvalidCatalogNameError":
            return f"database {name} does not exist: create it (createdb {name}), then `redraw db upgrade`"
        if kind in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return f"PostgreSQL at {host} refused user {parsed.username}: {text}; check REDRAW_DATABASE_URL"
        missing_table = isinstance(cause, sqlite3.OperationalError) and "no such table" in text
        if kind == "UndefinedTableError" or missing_table:
            return NOT_MIGRATED
        if isinstance(cause, sqlite3.OperationalError) and "unable to open" in text:
            return f"cannot open the SQLite database {name}: check that its directory exists and is writable"
        if isinstance(cause, ConnectionRefusedError):
            return f"cannot reach PostgreSQL at {host}: connection refused; is it running?"
        if isinstance(cause, socket.gaierror):
            return f"cannot find the database host {parsed.host}: check REDRAW_DATABASE_URL"
        if isinstance(cause, TimeoutError):
            return f"PostgreSQL at {host} did not answer in time"
        if isinstance(cause, OSError) and cause.strerror:
            where = cause.filename or (name if sqlite else host)
            return f"cannot open the database at {where}: {cause.strerror}"
    first_line = (str(error).splitlines() or [""])[0]
    return hide_url_passwords(f"the database failed: {type(error).__name__}: {first_line}")


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
