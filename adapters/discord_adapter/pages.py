"""The web pages on Discord (``REDRAW_PUBLIC_URL`` set): link buttons shown to one user alone.

A link is a bearer credential bound to the user it was made for, so it goes only where
that user alone sees it: on the region grid (ephemeral to the one who opened it), 🖌
opens the painter; after 🌳 or ``/history``, an ephemeral follow-up carries 🌳 All
versions. Without ``REDRAW_PUBLIC_URL`` nothing changes.
"""

from __future__ import annotations

import logging

import discord
from discord import ui

from adapters.page_offers import history_turn, offer
from adapters.web.links import page_link
from bot.app.config import Settings
from bot.engine.entry import Engine
from bot.engine.seams import Inbound
from bot.messages import render

log = logging.getLogger(__name__)

PLATFORM = "discord"


def paint_button(
    settings: Settings, chat_id: str, user_id: int, turn_id: int, locale: str | None, *, image_index: int = 0
) -> ui.Button[ui.View] | None:
    """🖌 on a grid opened by ``user_id`` in ``chat_id`` over picture ``image_index`` of the
    turn (None without REDRAW_PUBLIC_URL)."""
    link = page_link(
        settings,
        "paint",
        platform=PLATFORM,
        chat_id=chat_id,
        user_id=user_id,
        turn_id=turn_id,
        locale=locale,
        image_index=image_index,
    )
    if link is None:
        return None
    return ui.Button(style=discord.ButtonStyle.link, label=render("web_paint_button", locale), url=link)


async def offer_versions(
    engine: Engine,
    settings: Settings,
    interaction: discord.Interaction,
    chat_id: str,
    turn_id: int | None,
    *,
    locale: str | None,
) -> None:
    """🌳 All versions, to the one who asked alone, after the versions of ``turn_id``."""
    if settings.redraw_public_url is None:
        return
    user = str(interaction.user.id)
    found = await offer(engine, PLATFORM, user, turn_id, locale, chat_id=chat_id)
    if found is None:
        return
    link = page_link(
        settings,
        "versions",
        platform=PLATFORM,
        chat_id=chat_id,
        user_id=user,
        turn_id=found.turn.id,
        locale=found.locale,
    )
    if link is None:
        return
    view = ui.View(timeout=None)
    label = render("web_versions_button", found.locale)
    view.add_item(ui.Button(style=discord.ButtonStyle.link, label=label, url=link))
    view.stop()
    try:
        await interaction.followup.send(render("web_versions_open", found.locale), view=view, ephemeral=True)
    except discord.HTTPException as error:
        log.info("discord: could not offer the versions page: %s", error)


async def after_history(
    engine: Engine, settings: Settings, interaction: discord.Interaction, inbound: Inbound
) -> None:
    if settings.redraw_public_url is not None and inbound.command == "history":
        turn_id = await history_turn(engine, inbound)
        await offer_versions(
            engine, settings, interaction, inbound.key.chat_id, turn_id, locale=inbound.locale
        )
