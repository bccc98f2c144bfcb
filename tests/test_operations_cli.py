"""``redraw check`` and ``redraw stats``, run as real processes against the fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.engine.records import TurnStatus
from bot.engine.store import NewTurn, Outcome
from storage.db import upgrade
from storage.sql import SqlStore
from tests.conftest import TEST_API_KEY
from tests.fakes.discord_server import TOKEN as DISCORD_TOKEN
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_server import FakeTelegram
from tests.test_cli import REDRAW, run


def environment(tg: FakeTelegram, dc: FakeDiscord, fake: FakeOpenAI, data: Path) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "TELEGRAM_API_FILE_URL": tg.file_url,
        "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
        "DISCORD_API_BASE_URL": dc.api_url,
        "OPENAI_API_KEY": TEST_API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "REDRAW_DATA_DIR": str(data),
    }


async def test_check_reaches_every_part_one_line_each(
    tg: FakeTelegram, dc: FakeDiscord, fake: FakeOpenAI, tmp_path: Path
) -> None:
    code, out, err = await run(str(REDRAW), "check", env=environment(tg, dc, fake, tmp_path / "data"))
    assert code == 0, out + err
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert set(lines) == {"config", "database", "provider", "telegram", "discord"}
    assert all(rest.startswith("ok ") for rest in lines.values()), out
    assert "gpt-image-2 listed" in lines["provider"]
    assert "@redraw_test_bot" in lines["telegram"] and "long polling" in lines["telegram"]
    assert "logged in as redraw" in lines["discord"]
    assert [r.path for r in fake.requests] == ["/v1/models"]  # nothing that costs money
    assert tg.sent("sendMessage") == []  # and nothing said to anyone


async def test_check_fails_with_a_clear_line_for_each_broken_part(
    tg: FakeTelegram, dc: FakeDiscord, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.fail("auth")
    env = {
        **environment(tg, dc, fake, tmp_path / "data"),
        "TELEGRAM_BOT_TOKEN": "7000001:AAE-this-is-not-the-token",
        "DISCORD_BOT_TOKEN": "not.the.discord-token-0123456789",
    }
    code, out, err = await run(str(REDRAW), "check", env=env)
    assert code == 1, out + err
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["database"].startswith("ok ")
    assert lines["provider"].startswith("FAIL") and "upstream_auth" in lines["provider"]
    assert lines["telegram"].startswith("FAIL") and "TELEGRAM_BOT_TOKEN" in lines["telegram"]
    assert lines["discord"].startswith("FAIL") and "DISCORD_BOT_TOKEN" in lines["discord"]
    # The proxy echoed the key: it is not printed.
    assert TEST_API_KEY not in out + err and "this-is-not-the-token" not in out + err


async def test_check_without_platforms_or_reachable_provider_fails(tmp_path: Path) -> None:
    env = {
        "OPENAI_API_KEY": TEST_API_KEY,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "REDRAW_DATA_DIR": str(tmp_path),
    }
    code, out, _ = await run(str(REDRAW), "check", env=env)
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert code == 1
    assert lines["provider"].startswith("FAIL") and "cannot reach" in lines["provider"]
    assert lines["telegram"].startswith("skip") and lines["discord"].startswith("skip")
    assert lines["platforms"].startswith("FAIL")


async def test_stats_sum_turns_cost_and_errors_over_a_period(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite+aiosqlite:///{data / 'redraw.db'}"
    await upgrade(url)
    store = SqlStore.from_url(url)
    outcomes = [
        Outcome(TurnStatus.DONE, output_blobs=["a"], cost_usd=0.25),
        Outcome(TurnStatus.DONE, output_blobs=["b", "c"], cost_usd=0.5),
        Outcome(TurnStatus.FAILED, error_kind="upstream_rate_limited"),
        Outcome(TurnStatus.FAILED, error_kind="upstream_rate_limited"),
        Outcome(TurnStatus.INTERRUPTED, error_kind="interrupted"),
    ]
    for index, outcome in enumerate(outcomes):
        platform = "discord" if index == 1 else "telegram"
        turn = await store.create_turn(NewTurn(platform, "c", "u", "p", "images", "gpt-image-2", {}))
        assert turn is not None
        await store.finish_turn(turn.id, outcome)
    await store.close()

    code, out, err = await run(str(REDRAW), "stats", "--json", env={"REDRAW_DATA_DIR": str(data)})
    assert code == 0, err
    stats = json.loads(out)
    assert stats["turns_by_status"] == {"done": 2, "failed": 2, "interrupted": 1}
    assert stats["errors_by_kind"] == {"upstream_rate_limited": 2, "interrupted": 1}
    assert stats["images"] == 3 and stats["cost_usd"] == pytest.approx(0.75)
    assert stats["by_platform"] == {"telegram": [1, 0.25], "discord": [2, 0.5]}

    code, out, _ = await run(str(REDRAW), "stats", "--days", "7", env={"REDRAW_DATA_DIR": str(data)})
    assert code == 0
    assert "turns   5 (done 2, failed 2, interrupted 1)" in out and "cost    $0.75" in out
    assert "errors  upstream_rate_limited 2, interrupted 1" in out
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    code, out, _ = await run(str(REDRAW), "stats", "--since", tomorrow, env={"REDRAW_DATA_DIR": str(data)})
    assert code == 0 and "turns   0" in out and "errors  none" in out
