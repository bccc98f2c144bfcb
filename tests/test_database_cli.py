"""Database trouble at the command line, run as real processes against PostgreSQL: one
line that says what to run or fix, never a traceback or raw SQL."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import alembic_config, create_engine
from tests.conftest import POSTGRES_URL
from tests.fakes.telegram_server import TOKEN, FakeTelegram
from tests.test_cli import REDRAW, run

NOT_MIGRATED = "redraw: the database is not migrated: run `redraw db upgrade`"


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """The URL of a PostgreSQL database that exists but was never migrated."""
    name = f"redraw_empty_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


def revisions(url: str) -> list[str]:
    """This version's migrations, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def bot_env(tg: FakeTelegram, url: str, data: Path) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "TELEGRAM_API_FILE_URL": tg.file_url,
        "OPENAI_API_KEY": "sk-test-0123456789",
        "REDRAW_DATABASE_URL": url,
        "REDRAW_DATA_DIR": str(data),
    }


async def test_an_unmigrated_database_says_what_to_run(
    tg: FakeTelegram, empty_database: str, tmp_path: Path
) -> None:
    env = bot_env(tg, empty_database, tmp_path)
    code, out, err = await run(str(REDRAW), "run", env=env)
    assert code == 1 and err.strip().splitlines() == [NOT_MIGRATED], out + err
    assert tg.sent("sendMessage") == []

    code, out, err = await run(str(REDRAW), "stats", env=env)
    assert code == 1 and err.strip().splitlines() == [NOT_MIGRATED], out + err

    code, out, _ = await run(str(REDRAW), "check", env=env)
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["database"].startswith("FAIL") and lines["database"].endswith(
        NOT_MIGRATED.removeprefix("redraw: ")
    )


async def test_db_upgrade_says_which_revisions_it_applied(
    tg: FakeTelegram, empty_database: str, tmp_path: Path
) -> None:
    env = bot_env(tg, empty_database, tmp_path)
    head = revisions(empty_database)[-1]
    code, out, err = await run(str(REDRAW), "db", "upgrade", env=env)
    assert code == 0, out + err
    assert out.strip().endswith(
        f"applied {', '.join(revisions(empty_database))} (an empty database → {head}, head)"
    )

    code, out, err = await run(str(REDRAW), "db", "upgrade", env=env)
    assert code == 0 and out.strip().endswith(f"already at {head} (head)"), out + err

    code, out, err = await run(str(REDRAW), "stats", env=env)
    assert code == 0 and "turns   0" in out, out + err


async def test_a_database_behind_this_version_says_what_to_run(
    tg: FakeTelegram, empty_database: str, tmp_path: Path
) -> None:
    first, *later = revisions(empty_database)
    if not later:
        pytest.skip("one migration only: no database can be behind")
    # Alembic's env.py runs its own event loop.
    await asyncio.to_thread(command.upgrade, alembic_config(empty_database), first)
    code, out, err = await run(str(REDRAW), "run", env=bot_env(tg, empty_database, tmp_path))
    assert code == 1, out + err
    assert err.strip().splitlines() == [
        f"redraw: the database is at revision {first}, this version needs {later[-1]}: run `redraw db upgrade`"
    ]
    code, out, err = await run(str(REDRAW), "db", "upgrade", env=bot_env(tg, empty_database, tmp_path))
    assert code == 0 and f"applied {', '.join(later)} ({first} → {later[-1]}, head)" in out, out + err


async def test_a_missing_database_says_how_to_create_it() -> None:
    name = f"redraw_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    for args in (["db", "upgrade"], ["stats"]):
        code, out, err = await run(str(REDRAW), *args, env={"REDRAW_DATABASE_URL": url})
        assert code == 1, out + err
        assert err.strip().splitlines() == [
            f"redraw: database {name} does not exist: create it (createdb {name}), then `redraw db upgrade`"
        ]


async def test_an_unreachable_server_says_so() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:9/redraw"
    code, out, err = await run(str(REDRAW), "db", "upgrade", env={"REDRAW_DATABASE_URL": url})
    assert code == 1 and err.strip().splitlines() == [
        "redraw: cannot reach PostgreSQL at 127.0.0.1:9: connection refused; is it running?"
    ], out + err


async def test_a_start_on_sqlite_migrates_without_alembics_chatter(tg: FakeTelegram, tmp_path: Path) -> None:
    env = bot_env(tg, f"sqlite+aiosqlite:///{tmp_path / 'redraw.db'}", tmp_path)
    bot = await asyncio.create_subprocess_exec(
        str(REDRAW), "run", env={**os.environ, **env}, stderr=asyncio.subprocess.PIPE
    )
    assert bot.stderr is not None
    said: list[str] = []
    try:
        while not any("redraw is running" in line for line in said):
            line = (await asyncio.wait_for(bot.stderr.readline(), timeout=60)).decode()
            assert line, "the bot stopped before it ran: " + "".join(said)
            said.append(line)
        bot.send_signal(signal.SIGTERM)
        said += (await asyncio.wait_for(bot.stderr.read(), timeout=60)).decode().splitlines(keepends=True)
        assert await asyncio.wait_for(bot.wait(), timeout=60) == 0
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert (tmp_path / "redraw.db").exists()  # migrated: it ran
    assert not [line for line in said if "alembic" in line.lower()], "".join(said)
