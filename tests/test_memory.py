"""What an idle bot keeps in memory: only the platform it runs, and nothing heavy it
does not use (no Discord for a Telegram bot, no metrics server without a port, no
migration tools once the database is up to date, no HEIF decoder until a HEIF arrives;
on SQLite, no ORM, no async engine and no PostgreSQL dialect or driver)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from storage.db import alembic_config, head_revision, upgrade

ROOT = Path(__file__).resolve().parents[1]
HEAVY = (
    "discord",
    "aiohttp",
    "prometheus_client",
    "alembic",
    "mako",
    "pillow_heif",
    "sqlalchemy.orm",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.dialects.postgresql",
    "asyncpg",
)

STARTS = """
import asyncio, json, sys
from adapters.telegram_adapter.service import TelegramAdapter
from bot.app.runtime import Runtime
from bot.app.wiring import open_storage
from bot.app.config import load_settings

settings = load_settings(telegram_bot_token="1:x", openai_api_key="k", redraw_data_dir=sys.argv[1])

async def main():
    store, _ = await open_storage(settings)
    await store.close()

asyncio.run(main())
print(json.dumps(sorted(name for name in {HEAVY} if name in sys.modules)))
"""


def test_head_revision_is_alembics() -> None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    assert head_revision() == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_a_telegram_bot_on_an_up_to_date_database_loads_nothing_heavy(tmp_path: Path) -> None:
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{tmp_path / 'redraw.db'}"))
    done = subprocess.run(
        [sys.executable, "-c", STARTS.replace("{HEAVY}", repr(HEAVY)), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_a_new_database_is_migrated_on_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STARTS.replace("{HEAVY}", repr(("alembic",))), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # The first start migrates (Alembic, then), and the next needs nothing.
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["alembic"]
    assert (tmp_path / "redraw.db").exists()


SERVES = """
import asyncio, gc, json, os, signal, sys
from bot.app.config import load_settings
from bot.app.runtime import serve
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import TOKEN, FakeTelegram

async def main():
    tg, fake = FakeTelegram(), FakeOpenAI()
    await tg.start()
    await fake.start()
    settings = load_settings(
        telegram_bot_token=TOKEN,
        telegram_api_base_url=tg.base_url,
        telegram_api_file_url=tg.file_url,
        openai_api_key="k",
        openai_base_url=fake.base_url,
        redraw_data_dir=sys.argv[1],
    )
    before = gc.get_freeze_count()
    running = asyncio.create_task(serve(settings, ["telegram"]))
    await tg.wait_for(lambda: tg.sent("getUpdates"), 60, "the bot to poll")
    serving = gc.get_freeze_count()
    os.kill(os.getpid(), signal.SIGTERM)
    stopped_cleanly = await running
    await tg.close()
    await fake.close()
    print(json.dumps([before, serving, stopped_cleanly]))

asyncio.run(main())
"""


def test_a_started_bot_keeps_what_it_holds_for_good_out_of_the_collectors_way(tmp_path: Path) -> None:
    # A full collection walks every object the collector tracks; the ones a started bot holds
    # until it stops (modules, clients, tables) are frozen, so collections under load are short.
    done = subprocess.run(
        [sys.executable, "-c", SERVES, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    before, serving, stopped_cleanly = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == 0
    assert serving > 10_000
    assert stopped_cleanly is True
