"""The ``redraw`` command, run as a real process against the fake provider."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.conftest import TEST_API_KEY
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, png

REDRAW = Path(sys.executable).with_name("redraw")


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def provider(fake: FakeOpenAI) -> dict[str, str]:
    return {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": TEST_API_KEY}


async def test_help_from_the_script_and_the_module() -> None:
    for command in ([str(REDRAW)], [sys.executable, "-m", "bot"]):
        code, out, _ = await run(*command, "--help")
        assert code == 0
        assert "config" in out and "draw" in out


async def test_draw_without_a_key_says_so() -> None:
    code, _, err = await run(str(REDRAW), "draw", "a cat")
    assert code == 2 and "OPENAI_API_KEY" in err


async def test_config_reports_a_bad_variable() -> None:
    code, _, err = await run(str(REDRAW), "config", env={"REDRAW_BACKEND": "foo"})
    assert code == 2
    assert "REDRAW_BACKEND must be one of responses, chat, images" in err


async def test_draw_then_edit_the_result(fake: FakeOpenAI, tmp_path: Path) -> None:
    code, out, err = await run(
        str(REDRAW), "draw", "a blue cat", "--backend", "images", "-o", str(tmp_path), env=provider(fake)
    )
    assert code == 0, err
    first = Path(out.strip())
    assert colour_name(first.read_bytes()) == "blue"
    assert "request id req_" in err

    code, out, err = await run(
        str(REDRAW), "draw", "change it to red", "-i", str(first), "-o", str(tmp_path), env=provider(fake)
    )
    assert code == 0, err
    assert colour_name(Path(out.strip()).read_bytes()) == "red"
    assert fake.last("/responses").input_images() == [first.read_bytes()]


async def test_a_bad_request_is_refused_without_calling_the_provider(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    code, _, err = await run(str(REDRAW), "draw", "a cat", "--size", "1000x1000", env=provider(fake))
    assert code == 2
    assert "multiples of 16" in err and "1008x1008" in err

    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    code, _, err = await run(
        str(REDRAW), "draw", "restyle", "-i", str(not_an_image), "--lang", "zh", env=provider(fake)
    )
    assert code == 2
    assert "无法读取第 1 张输入图片" in err
    assert fake.requests == []


async def test_an_upstream_failure_says_what_to_do(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.fail("moderation")
    image = tmp_path / "in.png"
    image.write_bytes(png("green"))
    code, _, err = await run(
        str(REDRAW), "draw", "something", "-i", str(image), "--backend", "chat", env=provider(fake)
    )
    assert fake.last("/chat/completions").json["model"] == "gpt-image-2-all"  # the chat backend's own model
    assert code == 1
    assert "safety system blocked" in err and "request id req_" in err
    assert TEST_API_KEY not in err


async def test_run_needs_a_platform_token_and_a_provider() -> None:
    code, _, err = await run(str(REDRAW), "run")
    assert code == 2 and "set TELEGRAM_BOT_TOKEN" in err
    code, _, err = await run(
        str(REDRAW), "run", "--platform", "telegram", env={"DISCORD_BOT_TOKEN": "x" * 20}
    )
    assert code == 2 and "--platform telegram needs TELEGRAM_BOT_TOKEN" in err
    code, _, err = await run(str(REDRAW), "run", env={"TELEGRAM_BOT_TOKEN": "1:abcdefghijk"})
    assert code == 2 and "set OPENAI_API_KEY" in err


async def test_a_bad_webhook_setting_names_the_variable() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:abcdefghijk", "REDRAW_WEBHOOK_SECRET": "no spaces allowed"}
    code, _, err = await run(str(REDRAW), "run", env=env)
    assert code == 2 and "REDRAW_WEBHOOK_SECRET" in err and "no spaces" not in err
    code, _, err = await run(str(REDRAW), "run", env={"REDRAW_WEBHOOK_URL": "telegram.example.com/hook"})
    assert code == 2 and "REDRAW_WEBHOOK_URL" in err
