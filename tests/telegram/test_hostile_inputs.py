"""Hostile inputs over the real PTB Application: invisible prompts, absurd sizes."""

from __future__ import annotations

from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import png
from tests.telegram.conftest import ALICE, GROUP, PRIVATE, TelegramWorld

INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\ufe0f\U000e0100 \u3164"


def nothing_fetched(world: TelegramWorld, tg: FakeTelegram) -> None:
    assert tg.downloads == []
    assert tg.sent("getFile") == []
    assert world.provider_calls() == []


async def test_an_invisible_prompt_is_an_empty_one(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, INVISIBLE)
    await tg.wait_text(PRIVATE, "Tell me what to draw")
    tg.send(GROUP, ALICE, f"/draw {INVISIBLE}")
    await tg.wait_text(GROUP, "Tell me what to draw")
    # A photo with an invisible caption is a bare photo: asked about, not fetched.
    tg.send(PRIVATE, ALICE, INVISIBLE, photo=png("blue", (64, 64)))
    await tg.wait_text(PRIVATE, "What should I do with it")
    await tg.settle()
    nothing_fetched(world, tg)


async def test_an_absurd_size_gets_the_size_message(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "/settings size ²x²")
    await tg.wait_text(PRIVATE, "“²x²” is not a size")
    tg.send(PRIVATE, ALICE, "/settings size " + "9" * 3000 + "x1024")
    long_side = await tg.wait_text(PRIVATE, "The longest side may be at most 3840 pixels")
    assert "Try 3840x1280" in long_side["text"] and len(long_side["text"]) < 200
    tg.send(PRIVATE, ALICE, "/settings size 5000x5000")
    await tg.wait_text(PRIVATE, "Try 2880x2880")
    await tg.settle()
    assert not [m for m in tg.bot_messages(PRIVATE) if "Something went wrong" in (m.get("text") or "")]
    tg.send(PRIVATE, ALICE, "/settings")
    await tg.wait_text(PRIVATE, "size auto")
