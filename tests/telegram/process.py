"""`redraw run` as its own process against the fake Bot API and the fake provider: a
test starts it, kills it with SIGKILL at a chosen point, and starts it again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.engine.store import Stats
from storage.sql import SqlStore
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import TOKEN, FakeTelegram

REPO = Path(__file__).resolve().parents[2]


def process_env(tg: FakeTelegram, fake: FakeOpenAI, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of `redraw run` in its own process, pointed at the fakes."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "REDRAW_", "TELEGRAM_", "DISCORD_"))
    }
    return {
        **inherited,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "TELEGRAM_API_FILE_URL": tg.file_url,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.base_url,
        "REDRAW_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(REPO),
        **extra,
    }


class BotProcess:
    """One `python -m bot run` after another, on the same data and database."""

    def __init__(self, tg: FakeTelegram, env: dict[str, str], cwd: Path) -> None:
        self.tg = tg
        self.env = env
        self.cwd = cwd
        self.process: asyncio.subprocess.Process | None = None
        self.runs = 0

    @property
    def log_path(self) -> Path:
        return self.cwd / f"redraw-{self.runs}.log"

    async def start(self) -> None:
        """Start it and wait until it polls for updates (recovery runs before that)."""
        polls = len(self.tg.sent("getUpdates"))
        self.runs += 1
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=self.env, cwd=self.cwd, stderr=log, stdout=log
            )
        await self.tg.wait_for(
            lambda: len(self.tg.sent("getUpdates")) > polls or self.process_ended(),
            within=30,
            what="the bot to poll",
        )
        assert not self.process_ended(), self.log()

    def process_ended(self) -> bool:
        return self.process is not None and self.process.returncode is not None

    async def kill(self) -> None:
        """SIGKILL: nothing runs after this, no cleanup, no goodbye."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def log(self) -> str:
        return "\n".join(
            (self.cwd / f"redraw-{run}.log").read_text(errors="replace") for run in range(1, self.runs + 1)
        )


async def ledger(database_url: str) -> Stats:
    """What the database holds of every turn and charge so far."""
    store = SqlStore.from_url(database_url)
    try:
        return await store.stats(datetime(2000, 1, 1, tzinfo=UTC))
    finally:
        await store.close()
