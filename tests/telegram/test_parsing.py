"""The Telegram-shaped details, one function at a time: entities, button data, photo limits."""

from __future__ import annotations

import pytest
from telegram import MessageEntity, User

from adapters.buttons import (
    ActionButton,
    SettingButton,
    SettingMenu,
    action_id,
    parse,
    setting_id,
    setting_menu_id,
)
from adapters.telegram_adapter.channel import MAX_TEXT, fits_photo
from adapters.telegram_adapter.inbound import BotIdentity, parse_text
from adapters.text import split_text
from bot.engine.seams import ActionKind, OutgoingImage
from tests.fakes.telegram_server import find_entities

BOT = BotIdentity(42, "redraw_bot")


def entities(text: str) -> list[MessageEntity]:
    return [MessageEntity(e["type"], e["offset"], e["length"]) for e in find_entities(text)]


@pytest.mark.parametrize(
    ("text", "command", "prompt", "mentioned", "elsewhere"),
    [
        ("/draw a cat", "draw", "a cat", False, False),
        ("/draw@redraw_bot a cat", "draw", "a cat", False, False),
        ("/DRAW@Redraw_Bot a cat", "draw", "a cat", False, False),
        ("/draw@other_bot a cat", "draw", "a cat", False, True),
        ("@redraw_bot a red fox", None, "a red fox", True, False),
        ("a red fox, @redraw_bot please", None, "a red fox, please", True, False),
        # Emoji take two UTF-16 units: offsets after them must still cut the right text.
        ("🦊🦊 @redraw_bot make it 🌙 night", None, "🦊🦊 make it 🌙 night", True, False),
        ("@someone_else a red fox", None, "@someone_else a red fox", False, False),
        ("/settings", "settings", "", False, False),
    ],
)
def test_commands_and_mentions(
    text: str, command: str | None, prompt: str, mentioned: bool, elsewhere: bool
) -> None:
    parsed = parse_text(text, entities(text), BOT)
    assert (parsed.command, parsed.text, parsed.mentioned, parsed.for_another_bot) == (
        command,
        prompt,
        mentioned,
        elsewhere,
    )


def test_a_mention_by_id() -> None:
    mention = MessageEntity(MessageEntity.TEXT_MENTION, 0, 6, user=User(42, "Redraw", True))
    parsed = parse_text("Redraw a cat", [mention], BOT)
    assert parsed.mentioned and parsed.text == "a cat"
    other = MessageEntity(MessageEntity.TEXT_MENTION, 0, 6, user=User(7, "Robert", False))
    assert not parse_text("Robert a cat", [other], BOT).mentioned


def test_button_data_round_trips_within_telegrams_64_bytes() -> None:
    for kind in ActionKind:
        data = action_id(kind, 2**62)
        assert len(data.encode()) <= 64
        assert parse(data) == ActionButton(kind, 2**62)
    data = setting_id("size", "3840x2160")
    assert parse(data) == SettingButton("size", "3840x2160") and len(data) <= 64
    assert parse(setting_menu_id("size")) == SettingMenu("size")
    for junk in (None, "", "a:x:1", "a:r:", "a:r:1x", "s:size:", "zzz"):
        assert parse(junk) is None


@pytest.mark.parametrize(
    ("size", "width", "height", "fits"),
    [
        (9 * 2**20, 3840, 2160, True),
        (11 * 2**20, 2048, 2048, False),  # over 10 MB
        (2**20, 6000, 4100, False),  # width + height over 10000
        (2**20, 4200, 200, False),  # ratio over 20
        (2**20, 4000, 200, True),
    ],
)
def test_photo_limits(size: int, width: int, height: int, fits: bool) -> None:
    assert fits_photo(OutgoingImage(b"\0" * size, "image/png", width, height)) is fits


def test_long_texts_are_split_at_line_breaks() -> None:
    text = "\n".join(f"{n}. " + "x" * 100 for n in range(100))
    parts = split_text(text, MAX_TEXT)
    assert all(len(part) <= 4096 for part in parts) and len(parts) == 3
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert split_text("x" * 9000, MAX_TEXT) == ["x" * 4096, "x" * 4096, "x" * 808]
