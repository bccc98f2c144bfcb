"""The database password and any login or key inside OPENAI_BASE_URL never reach
``redraw config``, ``redraw check``, error messages or the logs, in any letter case."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from bot.app import logs
from bot.app.config import load_settings
from tests.conftest import POSTGRES_URL
from tests.fakes.openai_server import FakeOpenAI
from tests.test_cli import REDRAW, run

DB_PASSWORD = "Db-Passw0rd-Secret"
PROXY_USER = "proxy-login-alice"
PROXY_PASSWORD = "Pr0xy-Passw0rd"
QUERY_KEY = "Qu3ry-Key-0123"
SECRETS = (DB_PASSWORD, PROXY_USER, PROXY_PASSWORD, QUERY_KEY)


def with_password(url: str, password: str = DB_PASSWORD) -> str:
    # The test server trusts local connections, so any password logs in.
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def with_login(base_url: str) -> str:
    scheme, rest = base_url.split("://", 1)
    return f"{scheme}://{PROXY_USER}:{PROXY_PASSWORD}@{rest}"


def assert_hidden(text: str) -> None:
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), secret


async def test_config_shows_where_without_the_secrets() -> None:
    env = {
        "REDRAW_DATABASE_URL": with_password("postgresql+asyncpg://redraw@db.example.com:5432/redraw"),
        # No /v1: the warning about it names the URL too.
        "OPENAI_BASE_URL": f"https://{PROXY_USER}:{PROXY_PASSWORD}@proxy.example.com?key={QUERY_KEY}",
    }
    code, out, err = await run(str(REDRAW), "config", env=env)
    assert code == 0, err
    assert "postgresql+asyncpg://redraw:***@db.example.com:5432/redraw" in out
    assert "https://***@proxy.example.com/v1?key=***" in out and "OPENAI_BASE_URL has no /v1" in err
    assert_hidden(out + err)


async def test_check_reaches_both_without_showing_the_secrets(fake: FakeOpenAI, pg_database: str) -> None:
    env = {
        "REDRAW_DATABASE_URL": with_password(pg_database),
        # A proxy that takes a login (Basic auth) and no key: with a key too it would be refused.
        "OPENAI_BASE_URL": with_login(fake.base_url),
    }
    code, out, err = await run(str(REDRAW), "-v", "check", env=env)
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["database"].startswith("ok") and lines["provider"].startswith("ok"), out + err
    assert code == 1  # no platform token
    assert_hidden(out + err)

    # And when the database is not there, the line that says so hides the password too.
    missing = with_password(make_url(POSTGRES_URL).set(database="redraw_no_such_db").render_as_string())
    code, out, err = await run(str(REDRAW), "check", env={**env, "REDRAW_DATABASE_URL": missing})
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["database"].startswith("FAIL") and "redraw_no_such_db does not exist" in lines["database"]
    assert_hidden(out + err)


async def test_a_database_error_hides_the_password() -> None:
    missing = with_password(make_url(POSTGRES_URL).set(database="redraw_no_such_db").render_as_string())
    for command in (["db", "upgrade"], ["stats"]):
        code, out, err = await run(str(REDRAW), *command, env={"REDRAW_DATABASE_URL": missing})
        assert code == 1 and "redraw_no_such_db does not exist" in err, out + err
        assert_hidden(out + err)


@pytest.fixture
def _our_handler_removed() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    root.handlers[:] = [h for h in root.handlers if not isinstance(h.formatter, logs.OUR_FORMATTERS)]
    root.setLevel(level)


@pytest.mark.usefixtures("_our_handler_removed")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_logs_hide_the_database_password_and_the_provider_login(
    capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    database_url = with_password("postgresql+asyncpg://redraw@db:5432/redraw")
    base_url = with_login("https://proxy.example.com/v1") + f"?api-key={QUERY_KEY}"
    settings = load_settings(
        redraw_database_url=database_url, openai_base_url=base_url, redraw_log_format=log_format
    )
    logs.configure(settings, verbose=True, quiet_default=False)
    log = logging.getLogger("redraw.test")
    log.warning("connecting to %s through %s", database_url, base_url)
    log.error("the driver said: password %s rejected", DB_PASSWORD.upper())
    try:
        raise ConnectionError(f"login {PROXY_USER.upper()}:{PROXY_PASSWORD.lower()} refused")
    except ConnectionError:
        log.exception("the proxy failed")
    # A password too short to hide wherever it appears is still hidden inside a URL.
    log.warning("retrying postgresql+asyncpg://redraw:Sh0rt@db/redraw")
    err = capsys.readouterr().err
    assert "[secret]" in err and "db:5432/redraw" in err and "proxy.example.com" in err
    assert_hidden(err)
    assert "sh0rt" not in err.lower()
