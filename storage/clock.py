"""Time as storage sees it, in one place.

Repositories call ``clock.now()`` through this module (never a copy imported by
name), so one host's clock can be moved in a test by patching ``storage.clock.now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func


def now() -> datetime:
    """This host's clock, in UTC."""
    return datetime.now(UTC)


def on_server(connection: Connection) -> Any:
    """What leases and retention are measured on: the database server's own clock on
    PostgreSQL, so hosts whose clocks differ still agree; SQLite has one host anyway."""
    return func.now() if connection.dialect.name == "postgresql" else now()


def ago(connection: Connection, seconds: float) -> Any:
    """``seconds`` before now on the clock of :func:`on_server`."""
    return on_server(connection) - timedelta(seconds=seconds)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
