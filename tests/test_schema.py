"""The migrations build exactly the tables storage/tables.py defines: Alembic's
autogenerate finds nothing to add, drop or alter, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from storage.db import create_engine, in_schema, scratch_schema, upgrade
from storage.tables import schema
from tests.conftest import POSTGRES_URL


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, schema()))


async def _compare(url: str, **options: Any) -> list[Any]:
    engine = create_engine(url, **options)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_the_migrations_at_head_are_the_tables(database: str, tmp_path: Path) -> None:
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'redraw.db'}"
        await upgrade(url)
        assert await _compare(url) == []
        return
    async with scratch_schema(POSTGRES_URL, "redraw_test") as schema:
        assert await _compare(POSTGRES_URL, **in_schema(schema)) == []
