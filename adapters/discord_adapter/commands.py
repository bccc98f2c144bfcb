"""Redraw's application commands, localized from the catalogues (:mod:`bot.locales`).

``/imagine prompt [image1..image4] [size] [quality]``, ``/settings``, ``/usage``,
``/new``, ``/history``, ``/language [language]``, ``/help``, and "Picture history" and
"Redraw this" in a message's Apps menu. ``/imagine``, ``/usage``, ``/history``, ``/help``
and the two message commands may be user-installed and run anywhere (servers the bot is
not in, DMs, group DMs); the rest need the bot in the server. Command names stay English
(they are typed); descriptions,
option descriptions and choice names are localized by :class:`CommandTranslator`.
"""

from __future__ import annotations

from typing import Protocol

import discord
from discord import app_commands
from discord.app_commands import locale_str

from adapters.discord_adapter.inbound import message_key
from adapters.discord_adapter.markdown import plain
from adapters.text import cut
from bot.engine.records import MessageKey
from bot.images.catalogue import image_model, size_label
from bot.images.validation import QUALITIES
from bot.locales import ENGLISH, languages, normalize_locale
from bot.messages import render

PROMPT_SUMMARY_CHARS = 300


class CommandTranslator(app_commands.Translator):
    """Each command string names its catalogue key (``locale_str(english, key=...)``):
    a Discord locale gets that key's text in its language, when one is shipped."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        return localized(string, str(locale.value))


def prompt_summary(prompt: str) -> str:
    """A prompt on one line, cut to fit a command card's summary, shown as written."""
    return cut(plain(" ".join(prompt.split())), PROMPT_SUMMARY_CHARS)


def localized(string: locale_str, discord_locale: str) -> str | None:
    key = string.extras.get("key")
    code = normalize_locale(discord_locale)
    if key is None or code == ENGLISH:
        return None
    return render(key, code)


class CommandRunner(Protocol):
    async def run_command(
        self,
        interaction: discord.Interaction,
        command: str,
        *,
        text: str = "",
        attachments: list[discord.Attachment] = ...,
        params: dict[str, str] | None = None,
        reply_to: MessageKey | None = None,
        summary: str = "",
        ephemeral: bool = False,
    ) -> None: ...

    async def ask_redraw(self, interaction: discord.Interaction, message: discord.Message) -> None: ...


# Where a user-installed app's commands work too (see :mod:`adapters.discord_adapter.install`).
anywhere = app_commands.allowed_installs(guilds=True, users=True)
everywhere = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)


def _(key: str) -> locale_str:
    """A command string: its English text, and its key for the other languages."""
    return locale_str(render(key, ENGLISH), key=key)


def build_commands(
    runner: CommandRunner, model: str
) -> list[app_commands.Command | app_commands.ContextMenu]:  # type: ignore[type-arg]
    """The commands, their size choices those of the default backend's ``model``."""
    sizes = [app_commands.Choice(name=size_label(size), value=size) for size in image_model(model).sizes]
    qualities = [app_commands.Choice(name=_(f"quality_{quality}"), value=quality) for quality in QUALITIES]

    @anywhere
    @everywhere
    @app_commands.command(name="imagine", description=_("discord_imagine"))
    @app_commands.describe(
        prompt=_("discord_imagine_prompt"),
        image1=_("discord_imagine_image"),
        image2=_("discord_imagine_image"),
        image3=_("discord_imagine_image"),
        image4=_("discord_imagine_image"),
        size=_("discord_imagine_size"),
        quality=_("discord_imagine_quality"),
    )
    @app_commands.choices(size=sizes, quality=qualities)
    async def imagine(  # noqa: PLR0917 - discord.py passes options positionally
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        image1: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        size: app_commands.Choice[str] | None = None,
        quality: app_commands.Choice[str] | None = None,
    ) -> None:
        images = [image for image in (image1, image2, image3, image4) if image is not None]
        params = {name: choice.value for name, choice in (("size", size), ("quality", quality)) if choice}
        shown = prompt_summary(prompt)
        extras = f" 🖼️×{len(images)}" if images else ""
        await runner.run_command(
            interaction,
            "imagine",
            text=prompt,
            attachments=images,
            params=params,
            summary=f"**{shown}**{extras}",
        )

    settings = _plain_command(runner, "settings", "discord_settings")
    usage = _plain_command(runner, "usage", "menu_usage", user_installable=True)
    new = _plain_command(runner, "new", "discord_new", ephemeral=False)
    history = _plain_command(runner, "history", "discord_history", user_installable=True)
    help_ = _plain_command(runner, "help", "menu_help", user_installable=True)

    @anywhere
    @everywhere
    @app_commands.context_menu(name=_("discord_picture_history"))
    async def picture_history(interaction: discord.Interaction, message: discord.Message) -> None:
        replied = message_key(message.channel.id, message.id)
        await runner.run_command(interaction, "history", reply_to=replied, ephemeral=True)

    @anywhere
    @everywhere
    @app_commands.context_menu(name=_("discord_redraw_this"))
    async def redraw_this(interaction: discord.Interaction, message: discord.Message) -> None:
        await runner.ask_redraw(interaction, message)

    @app_commands.command(name="language", description=_("menu_language"))
    @app_commands.describe(language=_("discord_language_code"))
    @app_commands.choices(language=languages_offered())
    async def language(
        interaction: discord.Interaction, language: app_commands.Choice[str] | None = None
    ) -> None:
        text = language.value if language is not None else ""
        await runner.run_command(interaction, "language", text=text, ephemeral=True)

    return [imagine, settings, usage, new, history, help_, language, picture_history, redraw_this]


def _plain_command(
    runner: CommandRunner,
    name: str,
    description: str,
    *,
    ephemeral: bool = True,
    user_installable: bool = False,
) -> app_commands.Command:  # type: ignore[type-arg]
    """A command with no options: the engine's command of that name."""

    async def run(interaction: discord.Interaction) -> None:
        await runner.run_command(interaction, name, ephemeral=ephemeral)

    command: app_commands.Command = app_commands.Command(  # type: ignore[type-arg]
        name=name, description=_(description), callback=run
    )
    return installable(command) if user_installable else command


def installable(command: app_commands.Command) -> app_commands.Command:  # type: ignore[type-arg]
    """Allowed where a user-installed app's commands work too."""
    return anywhere(everywhere(command))


def languages_offered() -> list[app_commands.Choice[str]]:
    """/language's choices: automatic, then each shipped language by its own name (25 at most)."""
    offered = [app_commands.Choice(name=_("discord_language_auto"), value="auto")]
    offered += [app_commands.Choice(name=item.native, value=item.tag) for item in languages().values()]
    return offered[:25]
