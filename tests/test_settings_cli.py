"""Wrong settings stop ``redraw`` at start with rc 2 and one line naming the variable,
run as real processes."""

from __future__ import annotations

import pytest

from tests.test_cli import REDRAW, run

RUNNABLE = {"TELEGRAM_BOT_TOKEN": "1:abcdefghijk", "OPENAI_API_KEY": "sk-test-0123456789"}


@pytest.mark.parametrize(
    ("prices", "said"),
    [
        ('{"gpt-image-2": {"image_out": NaN}}', "gpt-image-2.image_out must be a finite number ≥ 0"),
        ('{"gpt-image-2": {"text_in": -5}}', "gpt-image-2.text_in must be a finite number ≥ 0"),
        ('{"gpt-image-2-all": {"per_request": "0.03"}}', "gpt-image-2-all.per_request must be a number"),
        ('{"gpt-image-2": {"image_out": 30, "output": 4}}', "unknown fields output"),
    ],
)
async def test_a_bad_price_stops_the_start(prices: str, said: str) -> None:
    for command in ("run", "config"):
        code, out, err = await run(str(REDRAW), command, env={**RUNNABLE, "REDRAW_PRICES": prices})
        assert code == 2, out + err
        [line] = [line for line in err.splitlines() if "REDRAW_PRICES" in line]
        assert line.startswith("REDRAW_PRICES: ") and said in line


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("garbage", "is not a database URL; use sqlite+aiosqlite:///data/redraw.db or postgresql+asyncpg://"),
        (
            "postgresql://redraw:Db-Passw0rd-Secret@db.example.com:5432/redraw",
            "use postgresql+asyncpg://redraw:***@db.example.com:5432/redraw",
        ),
        ("postgres://redraw@db/redraw", "use postgresql+asyncpg://redraw@db/redraw"),
        ("sqlite:///data/redraw.db", "use sqlite+aiosqlite:///data/redraw.db"),
        ("sqlite+pysqlite:////var/lib/redraw.db", "use sqlite+aiosqlite:////var/lib/redraw.db"),
        ("mysql+aiomysql://u@db/redraw", "Redraw runs on SQLite or PostgreSQL"),
        ("postgresql+asyncpg://db:port/redraw", "has a port that is not a number"),
    ],
)
async def test_a_bad_database_url_stops_the_start(url: str, said: str) -> None:
    code, out, err = await run(str(REDRAW), "run", env={**RUNNABLE, "REDRAW_DATABASE_URL": url})
    assert code == 2, out + err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if "REDRAW_DATABASE_URL" in line]
    assert line.startswith("REDRAW_DATABASE_URL: ") and said in line
    assert "db-passw0rd-secret" not in (out + err).lower()


@pytest.mark.parametrize(
    ("name", "value", "bad"),
    [
        ("REDRAW_ALLOWED_USERS", "alice", "'alice'"),
        ("REDRAW_ALLOWED_USERS", "telegram:@alice, discord:1", "'telegram:@alice'"),
        ("REDRAW_ADMINS", "foo:1", "'foo:1'"),
        ("REDRAW_ADMINS", "telegram:-5", "'telegram:-5'"),  # users are positive; groups are chats
        ("REDRAW_ALLOWED_CHATS", "discord:-100", "'discord:-100'"),
        ("REDRAW_ALLOWED_CHATS", "telegram:", "'telegram:'"),
    ],
)
async def test_a_bad_platform_id_stops_the_start(name: str, value: str, bad: str) -> None:
    code, out, err = await run(str(REDRAW), "run", env={**RUNNABLE, name: value})
    assert code == 2, out + err
    [line] = [line for line in err.splitlines() if line.startswith(f"{name}: ")]
    assert f"{bad} is not platform:id" in line and "telegram:" in line and "discord:" in line


async def test_good_platform_ids_pass() -> None:
    env = {
        "REDRAW_ALLOWED_USERS": "Telegram:123456789, discord:80351110224678912",
        "REDRAW_ALLOWED_CHATS": "telegram:-1001234567890, discord:1187543220089921546",
        "REDRAW_ADMINS": "telegram:42",
    }
    code, out, err = await run(str(REDRAW), "config", env=env)
    assert code == 0, out + err


@pytest.mark.parametrize(
    ("name", "value"), [("REDRAW_READ_TIMEOUT", "inf"), ("REDRAW_BLOB_RETENTION_DAYS", "nan")]
)
async def test_numbers_are_finite(name: str, value: str) -> None:
    code, out, err = await run(str(REDRAW), "config", env={name: value})
    assert code == 2 and err.splitlines()[-1].startswith(f"{name}: "), out + err
