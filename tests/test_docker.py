"""The Docker image and docker-compose.yml. No Docker engine runs here, so the files
are linted (hadolint, the compose-spec schema) and the image's own start command,
health check and environment are run as a process, on PostgreSQL as compose runs them."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
from pathlib import Path

import yaml

from tests.conftest import TEST_API_KEY
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import TOKEN, Chat, FakeTelegram, User
from tests.helpers import colour_name, free_port
from tests.test_cli import run

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def instructions() -> list[tuple[str, str]]:
    """The final stage's instructions, continuation lines joined, comments dropped."""
    lines: list[str] = []
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + raw.strip()
        else:
            lines.append(raw.strip())
    parsed = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]
    last_from = max(index for index, (name, _) in enumerate(parsed) if name == "FROM")
    return parsed[last_from:]


def instruction(name: str) -> str:
    [value] = [value for found, value in instructions() if found == name]
    return value


def image_environment() -> dict[str, str]:
    pairs = [
        pair.split("=", 1) for name, value in instructions() if name == "ENV" for pair in shlex.split(value)
    ]
    return {key: value for key, value in pairs if key != "PATH"}


def compose() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def executable(command: list[str]) -> list[str]:
    """The image's command, with `redraw` from this environment (the image's is on its PATH)."""
    return [str(BIN / command[0]), *command[1:]]


async def test_the_files_pass_their_linters() -> None:
    code, out, err = await run(str(BIN / "hadolint"), str(ROOT / "Dockerfile"))
    assert code == 0, out + err
    code, out, err = await run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(ROOT / "docker-compose.yml"),
    )
    assert code == 0, out + err


def test_the_image_is_slim_non_root_with_a_data_volume_and_a_health_check() -> None:
    base = instruction("FROM").split()[0]
    assert base.startswith("python:3.11-slim")
    user = instruction("USER").split(":")[0]
    assert user not in ("root", "0")
    env = image_environment()
    assert json.loads(instruction("VOLUME")) == [env["REDRAW_DATA_DIR"]]
    assert env["REDRAW_METRICS_PORT"] and env["REDRAW_LOG_FORMAT"] == "json"
    health = instruction("HEALTHCHECK")
    assert json.loads(health.split("CMD", 1)[1]) == ["redraw", "health"]
    assert json.loads(instruction("CMD")) == ["redraw", "run"]


def test_compose_migrates_once_then_starts_the_bot_on_postgres() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    bot, migrate = services["redraw"], services["migrate"]
    assert migrate["command"] == ["redraw", "db", "upgrade"]
    assert bot["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert bot["environment"]["REDRAW_DATABASE_URL"].startswith("postgresql+asyncpg://redraw:")
    assert "@postgres:5432/redraw" in bot["environment"]["REDRAW_DATABASE_URL"]
    assert bot["volumes"] == ["data:/data"]
    # Long enough for the shutdown grace (30 s) before Docker's SIGKILL.
    assert bot["stop_grace_period"] == "45s"


async def test_the_images_start_command_and_health_check_outside_docker(
    tg: FakeTelegram, fake: FakeOpenAI, tmp_path: Path, pg_database: str
) -> None:
    port = free_port()
    # Added to this environment, which the tests' own fixture keeps free of real settings.
    env = {
        **image_environment(),
        # What the volume and compose provide; another port, so tests can run side by side.
        "REDRAW_DATA_DIR": str(tmp_path / "data"),
        "REDRAW_METRICS_PORT": str(port),
        "REDRAW_DATABASE_URL": pg_database,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "TELEGRAM_API_FILE_URL": tg.file_url,
        "OPENAI_API_KEY": TEST_API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "REDRAW_PARTIAL_IMAGES": "0",
    }
    health = executable(json.loads(instruction("HEALTHCHECK").split("CMD", 1)[1]))
    code, _, err = await run(*health, env=env)
    assert code != 0 and "unhealthy" in err

    migrate = compose()["services"]["migrate"]["command"]  # type: ignore[index]
    code, out, err = await run(*executable(migrate), env=env)
    assert code == 0, out + err

    bot = await asyncio.create_subprocess_exec(
        *executable(json.loads(instruction("CMD"))),
        env={**os.environ, **env},
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        for _ in range(200):
            if (await run(*health, env=env))[0] == 0:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the health check never passed")
        chat, user = Chat(601, "private", "Dee"), User(601, "Dee", "en", "dee")
        tg.send(chat, user, "a yellow boat")
        photo = await tg.wait_photo(chat)
        assert colour_name(tg.photo_bytes(photo)) == "yellow"
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.wait(), 30) == 0
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert bot.stderr is not None
    lines = [
        json.loads(line) for line in (await bot.stderr.read()).decode().splitlines() if line.startswith("{")
    ]
    assert any(line.get("status") == "done" and line.get("turn_id") for line in lines)
    code, _, _ = await run(*health, env=env)
    assert code != 0
