"""Languages over the real discord.py client: the commands localized from the catalogues
for every Discord locale a language is shipped for, and /language."""

from __future__ import annotations

from typing import Any

import discord

from bot.locales import ENGLISH, languages, normalize_locale
from bot.messages import render
from tests.discord.conftest import LI, DiscordWorld
from tests.fakes.discord_server import FakeDiscord

# Discord's client locales (it has no Arabic or Persian one).
LOCALIZED = {locale.value: normalize_locale(locale.value) for locale in discord.Locale}
LOCALIZED = {tag: code for tag, code in LOCALIZED.items() if code != ENGLISH}


def command(dc: FakeDiscord, name: str) -> dict[str, Any]:
    return next(found for found in dc.commands if found["name"] == name)


async def test_commands_are_localized_for_every_discord_locale(world: DiscordWorld, dc: FakeDiscord) -> None:
    assert {"zh-CN", "zh-TW", "es-ES", "es-419", "pt-BR", "ru"} <= set(LOCALIZED)
    assert LOCALIZED["zh-TW"] == "zh_Hant" and LOCALIZED["es-419"] == "es"
    imagine = command(dc, "imagine")
    assert imagine["description"] == render("discord_imagine", ENGLISH)
    prompt = next(option for option in imagine["options"] if option["name"] == "prompt")
    quality = next(option for option in imagine["options"] if option["name"] == "quality")
    for tag, code in LOCALIZED.items():
        assert imagine["description_localizations"][tag] == render("discord_imagine", code), tag
        assert prompt["description_localizations"][tag] == render("discord_imagine_prompt", code)
        high = next(choice for choice in quality["choices"] if choice["value"] == "high")
        assert high["name_localizations"][tag] == render("quality_high", code)
        menu = command(dc, "Picture history")
        assert menu["name_localizations"][tag] == render("discord_picture_history", code)
        assert command(dc, "language")["description_localizations"][tag] == render("menu_language", code)
    for code in languages():
        for key in ("discord_imagine", "discord_imagine_prompt", "discord_imagine_size", "discord_new"):
            assert len(render(key, code)) <= 100, (code, key)
        assert len(render("discord_picture_history", code)) <= 32, code


async def test_language_over_a_slash_command(world: DiscordWorld, dc: FakeDiscord) -> None:
    language = command(dc, "language")
    values = [choice["value"] for choice in language["options"][0]["choices"]]
    assert values[0] == "auto" and {item.tag for item in languages().values()} <= set(values)

    run = await dc.slash(LI, "language", {"language": "es"}, guild=world.guild)
    said = render("language_set", "es", language=languages()["es"].native)
    await dc.wait_for(lambda: said in dc.messages.get(run.original_id or 0, {}).get("content", ""))
    help_run = await dc.slash(LI, "help", guild=world.guild)
    await dc.wait_for(lambda: "/imagine" in dc.messages.get(help_run.original_id or 0, {}).get("content", ""))
    assert dc.messages[help_run.original_id or 0]["content"] == render("help_discord", "es")

    run = await dc.slash(LI, "language", {"language": "auto"}, guild=world.guild)
    said = render("language_auto", "zh_Hans", language=languages()["zh_Hans"].native)
    await dc.wait_for(lambda: said in dc.messages.get(run.original_id or 0, {}).get("content", ""))
