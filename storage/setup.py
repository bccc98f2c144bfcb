"""Opening storage from the settings: the database (SQLite upgrades itself) and the blobs."""

from __future__ import annotations

import logging

from sqlalchemy.engine import make_url

from bot.config import Settings
from storage.blobs import FileBlobStore
from storage.db import upgrade_sqlite
from storage.sql import SqlStore

log = logging.getLogger(__name__)


async def open_storage(settings: Settings) -> tuple[SqlStore, FileBlobStore]:
    url = settings.database_url
    if make_url(url).get_backend_name() == "sqlite":
        # The embedded default needs no operator step. PostgreSQL is upgraded with
        # `redraw db upgrade`, once per deploy, not by every instance at once.
        await upgrade_sqlite(url)
    blobs = FileBlobStore(settings.redraw_data_dir / "blobs")
    if settings.redraw_blob_retention_days > 0:
        removed = await blobs.prune(settings.redraw_blob_retention_days)
        if removed:
            log.info("removed %d images older than %g days", removed, settings.redraw_blob_retention_days)
    return SqlStore.from_url(url), blobs
