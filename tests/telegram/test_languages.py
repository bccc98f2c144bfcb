"""Languages over the real PTB Application: a command menu per shipped language, the
user's Telegram language answering, and /language switching it for that user."""

from __future__ import annotations

from adapters.telegram_adapter.menu import MENU
from bot.locales import ENGLISH, languages, normalize_locale
from bot.messages import render
from tests.fakes.telegram_server import Chat, FakeTelegram, User
from tests.telegram.conftest import TelegramWorld

CARLOS = User(505, "Carlos", "es", "carlos")
CARLOS_CHAT = Chat(505, "private", "Carlos")


async def test_the_command_menu_is_set_in_every_shipped_language(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    codes = {"" if code == ENGLISH else language.telegram_code for code, language in languages().items()}
    assert set(tg.commands) == codes
    for language_code, commands in tg.commands.items():
        code = normalize_locale(language_code or ENGLISH)
        assert [command["command"] for command in commands] == list(MENU)
        descriptions = {command["command"]: command["description"] for command in commands}
        assert descriptions == {name: render(f"menu_{name}", code) for name in MENU}, language_code
        assert all(0 < len(text) <= 256 for text in descriptions.values())
    # One menu for Chinese (Telegram's menus know no script): Simplified.
    assert tg.commands["zh"][0]["description"] == render("menu_draw", "zh_Hans")
    assert tg.commands["pt"][0]["description"] == render("menu_draw", "pt_BR")


async def test_the_app_language_answers_until_language_overrides_it(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    tg.send(CARLOS_CHAT, CARLOS, "/help")
    spanish = await tg.wait_text(CARLOS_CHAT, render("help", "es")[:40])
    assert spanish["text"] == render("help", "es")

    tg.send(CARLOS_CHAT, CARLOS, "/language pt-BR")
    native = languages()["pt_BR"].native
    done = await tg.wait_text(CARLOS_CHAT, render("language_set", "pt_BR", language=native))

    tg.send(CARLOS_CHAT, CARLOS, "/help")
    portuguese = await tg.wait_text(CARLOS_CHAT, render("help", "pt_BR")[:40], after=done["message_id"])
    assert portuguese["text"] == render("help", "pt_BR")
    tg.send(CARLOS_CHAT, CARLOS, "/frobnicate")
    await tg.wait_text(CARLOS_CHAT, render("unknown_command", "pt_BR", command="frobnicate"))

    tg.send(CARLOS_CHAT, CARLOS, "/language")
    await tg.wait_text(CARLOS_CHAT, "es — Español")

    tg.send(CARLOS_CHAT, CARLOS, "/language auto")
    back = await tg.wait_text(CARLOS_CHAT, render("language_auto", "es", language=languages()["es"].native))
    tg.send(CARLOS_CHAT, CARLOS, "/help")
    again = await tg.wait_text(CARLOS_CHAT, render("help", "es")[:40], after=back["message_id"])
    assert again["text"] == render("help", "es")
