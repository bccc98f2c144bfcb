"""The store behind the engine's ports, as the ``redraw.storage`` entry point ``sql``:
opening the database (SQLite upgrades itself) and the blobs from plain values, migrating
(``redraw db upgrade``), ``redraw check``'s database line, and database failures in one line.

Failures the operator must fix raise ``DatabaseUnusable`` (bot.errors), in one line."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.errors import DatabaseUnusable
from bot.telemetry.redaction import shown_url
from storage.blobs import FileBlobStore
from storage.db import Upgraded, explain, migrate, schema_of, upgrade_sqlite
from storage.sql import SqlStore

log = logging.getLogger(__name__)


async def open_storage(url: str, data_dir: Path, retention_days: float) -> tuple[SqlStore, FileBlobStore]:
    """Raises DatabaseUnusable (one line: what to run or fix) before anything else starts."""
    if make_url(url).get_backend_name() == "sqlite":
        # The embedded default needs no operator step. PostgreSQL is upgraded with
        # `redraw db upgrade`, once per deploy, not by every instance at once.
        try:
            await upgrade_sqlite(url)
        except Exception as error:
            raise DatabaseUnusable(explain(error, url)) from error
    elif (problem := (await schema_of(url)).problem) is not None:
        raise DatabaseUnusable(problem)
    blobs = FileBlobStore(data_dir / "blobs")
    if retention_days > 0:
        removed = await blobs.prune(retention_days)
        if removed:
            log.info("removed %d images older than %g days", removed, retention_days)
    return SqlStore.from_url(url), blobs


async def check_database(url: str) -> str:
    where = shown_url(url)
    sqlite = make_url(url).get_backend_name() == "sqlite"
    try:
        schema = await schema_of(url)
    except DatabaseUnusable as error:
        raise DatabaseUnusable(f"{where}: {error}") from None
    if schema.problem is None:
        newer = "" if schema.known else f" (newer than this version's {schema.head})"
        return f"{where}, schema {schema.current}{newer}"
    if sqlite:
        return f"{where}, schema {schema.current or 'none'}; brought to {schema.head} when the bot starts"
    raise DatabaseUnusable(f"{where}: {schema.problem}")


class SqlStorage:
    """The StoragePlugin (bot.app.plugins) on SQLAlchemy: SQLite or PostgreSQL."""

    name = "sql"

    async def open(self, url: str, data_dir: Path, retention_days: float) -> tuple[SqlStore, FileBlobStore]:
        return await open_storage(url, data_dir, retention_days)

    def open_store(self, url: str) -> SqlStore:
        return SqlStore.from_url(url)

    async def migrate(self, url: str) -> Upgraded:
        return await migrate(url)

    async def check(self, url: str) -> str:
        return await check_database(url)

    def explain(self, error: BaseException, url: str) -> str:
        return explain(error, url)


plugin = SqlStorage()
