"""Redraw's application commands, with their Chinese localizations.

``/imagine prompt [image1..image4] [size] [quality]``, ``/settings``, ``/usage``,
``/new``, ``/history``, ``/help``, and "Picture history" in a message's Apps menu.
Command names stay English (they are typed); descriptions, option descriptions
and choice names are localized by :class:`CommandTranslator`.
"""

from __future__ import annotations

from typing import Protocol

import discord
from discord import app_commands
from discord.app_commands import locale_str

from adapters.discord_adapter.inbound import message_key
from adapters.discord_adapter.markdown import plain
from bot.engine.records import MessageKey
from bot.models import image_model, size_label
from bot.validation import QUALITIES

PROMPT_SUMMARY_CHARS = 300

# English text → its Chinese; the English is the default Discord shows.
ZH: dict[str, str] = {
    "Draw a picture from a prompt, optionally from your own images": (
        "根据描述画一幅画，也可以基于你上传的图片"
    ),
    "What to draw, or how to change your images": "要画什么，或者如何修改你的图片",
    "An image to start from or to combine": "作为起点或用于融合的图片",
    "Picture size (default: this channel's setting)": "图片尺寸（默认：本频道的设置）",
    "Picture quality (default: this channel's setting)": "图片质量（默认：本频道的设置）",
    "Size, quality, format and backend for this channel": "本频道的尺寸、质量、格式和接口",
    "What you have spent": "查看花费",
    "Start a new picture: forget the latest one here": "开始一张新图片：不再接着上一张画",
    "How the latest picture here was made": "查看这里最新一张图片的创作过程",
    "How to use the bot, with examples": "使用说明和示例",
    "Picture history": "图片历史",
    "auto": "自动",
    "low": "低",
    "medium": "中",
    "high": "高",
}
CHINESE = {discord.Locale.chinese, discord.Locale.taiwan_chinese}


class CommandTranslator(app_commands.Translator):
    async def translate(
        self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        if locale in CHINESE:
            return ZH.get(string.message)
        return None


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


def _(text: str) -> locale_str:
    return locale_str(text)


def build_commands(
    runner: CommandRunner, model: str
) -> list[app_commands.Command | app_commands.ContextMenu]:  # type: ignore[type-arg]
    """The commands, their size choices those of the default backend's ``model``."""
    sizes = [app_commands.Choice(name=size_label(size), value=size) for size in image_model(model).sizes]
    qualities = [app_commands.Choice(name=_(quality), value=quality) for quality in QUALITIES]

    @app_commands.command(
        name="imagine", description=_("Draw a picture from a prompt, optionally from your own images")
    )
    @app_commands.describe(
        prompt=_("What to draw, or how to change your images"),
        image1=_("An image to start from or to combine"),
        image2=_("An image to start from or to combine"),
        image3=_("An image to start from or to combine"),
        image4=_("An image to start from or to combine"),
        size=_("Picture size (default: this channel's setting)"),
        quality=_("Picture quality (default: this channel's setting)"),
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
        shown = plain(" ".join(prompt.split()))
        if len(shown) > PROMPT_SUMMARY_CHARS:
            shown = shown[: PROMPT_SUMMARY_CHARS - 1] + "…"
        extras = f" 🖼️×{len(images)}" if images else ""
        await runner.run_command(
            interaction,
            "imagine",
            text=prompt,
            attachments=images,
            params=params,
            summary=f"**{shown}**{extras}",
        )

    @app_commands.command(
        name="settings", description=_("Size, quality, format and backend for this channel")
    )
    async def settings(interaction: discord.Interaction) -> None:
        await runner.run_command(interaction, "settings", ephemeral=True)

    @app_commands.command(name="usage", description=_("What you have spent"))
    async def usage(interaction: discord.Interaction) -> None:
        await runner.run_command(interaction, "usage", ephemeral=True)

    @app_commands.command(name="new", description=_("Start a new picture: forget the latest one here"))
    async def new(interaction: discord.Interaction) -> None:
        await runner.run_command(interaction, "new")

    @app_commands.command(name="history", description=_("How the latest picture here was made"))
    async def history(interaction: discord.Interaction) -> None:
        await runner.run_command(interaction, "history", ephemeral=True)

    @app_commands.command(name="help", description=_("How to use the bot, with examples"))
    async def help_(interaction: discord.Interaction) -> None:
        await runner.run_command(interaction, "help", ephemeral=True)

    @app_commands.context_menu(name=_("Picture history"))
    async def picture_history(interaction: discord.Interaction, message: discord.Message) -> None:
        replied = message_key(message.channel.id, message.id)
        await runner.run_command(interaction, "history", reply_to=replied, ephemeral=True)

    return [imagine, settings, usage, new, history, help_, picture_history]
