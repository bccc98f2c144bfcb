"""``redraw draw`` speaks to the operator at a terminal, not to a chat: flags and
settings, never buttons, slash commands or "the bot's operator"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bot
from bot.app.cli_messages import render_cli
from bot.errors import UpstreamError
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import png
from tests.test_cli import REDRAW, provider, run

CHAT_TALK = {
    "en": re.compile(
        r"/(draw|settings|new|help|usage|history|cancel)\b|button|\bbot\b|bot's|\bsend\b|\breply\b|operator",
        re.IGNORECASE,
    ),
    "zh": re.compile(r"/(draw|settings)|按钮|机器人|发送|回复|管理员"),
}
SOURCES = Path(bot.__file__).parent


def error_keys() -> list[str]:
    """Every message key an error can carry to ``redraw draw``: validation's and imaging's
    refusals, and each provider error (state_expired never reaches anyone: it is recovered)."""
    raised = set()
    for module in ("images/validation.py", "images/imaging.py"):
        raised |= set(re.findall(r'key="(\w+)"', (SOURCES / module).read_text()))
    pending: list[type[UpstreamError]] = [UpstreamError]
    while pending:
        error = pending.pop()
        raised.add(error.key)
        pending += error.__subclasses__()
    return sorted(raised - {"state_expired"})


@pytest.mark.parametrize("locale", ["en", "zh"])
@pytest.mark.parametrize("key", error_keys())
def test_no_error_speaks_of_the_chat_at_a_terminal(key: str, locale: str) -> None:
    text = render_cli(key, locale)
    assert not CHAT_TALK[locale].search(text), text


async def test_an_empty_prompt_and_a_second_image_get_terminal_advice(fake: FakeOpenAI) -> None:
    code, _, err = await run(str(REDRAW), "draw", "  ", env=provider(fake))
    assert code == 2 and 'redraw draw "a red fox in snow"' in err and "/draw" not in err

    code, _, err = await run(str(REDRAW), "draw", "a fox", "-n", "2", "--backend", "chat", env=provider(fake))
    assert code == 2 and "use -n with --backend images" in err and "button" not in err.lower()

    code, _, err = await run(str(REDRAW), "draw", "a fox", "-n", "2", "--lang", "zh", env=provider(fake))
    assert code == 2 and "--backend images" in err and "按钮" not in err
    assert fake.requests == []


async def test_a_mask_without_its_image(fake: FakeOpenAI, tmp_path: Path) -> None:
    mask = tmp_path / "mask.png"
    mask.write_bytes(png("blue", mode="RGBA"))
    code, _, err = await run(str(REDRAW), "draw", "a fox", "--mask", str(mask), env=provider(fake))
    assert code == 2 and "pass that image with -i" in err


async def test_a_wrong_base_url_path_names_the_variable(fake: FakeOpenAI) -> None:
    host = fake.base_url.removesuffix("/v1").split("://", 1)[1]
    # The right host, a wrong path, and a login (the proxy's Basic auth) that must not be printed.
    wrong = f"http://ops:Pr0xy-Passw0rd@{host}/openai/v1"
    env = {"OPENAI_BASE_URL": wrong}
    code, _, err = await run(str(REDRAW), "draw", "a fox", "--backend", "images", env=env)
    assert code == 1
    assert "The provider URL answered 404 Not Found: check OPENAI_BASE_URL" in err
    assert f"http://***@{host}/openai/v1: HTTP 404" in err
    assert "isn't available" not in err and "/settings" not in err
    assert "pr0xy-passw0rd" not in err.lower()
