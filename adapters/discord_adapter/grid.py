"""Region grids on Discord, shown to the one who asked alone (ephemeral).

✏️ on a picture answers with the picture overlaid by the labelled grid and 5 rows of
buttons: the 16 cells (4 rows of 4), then All, None, Done, Cancel. Each ``custom_id``
carries the turn, the picture and the cells after the press
(:func:`adapters.buttons.grid_id`), routed by discord.py's dynamic items, so nothing
is kept per message. A toggle edits the grid in place through its interaction (an
interaction's answer, not a channel message: it costs none of the channel's budget).
An ephemeral message can't be replied to, so Done opens a form asking what to change;
its answer becomes the region edit, on a card like ``/imagine``'s.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any, Protocol

import discord
from discord import ui

from adapters.buttons import ActionButton, GridButton, grid_id, parse
from adapters.discord_adapter.components import ChangeModal
from adapters.discord_adapter.inbound import interaction_locale, key_of
from adapters.discord_adapter.install import reachable
from adapters.discord_adapter.pages import paint_button
from bot.app.config import Settings
from bot.engine.entry import Engine
from bot.engine.language import effective
from bot.engine.records import MessageKey
from bot.engine.seams import ActionPress, GridPress, GridStep, GridView
from bot.images import regions
from bot.messages import render

log = logging.getLogger(__name__)

CHOSEN = "✅"


class GridRunner(Protocol):
    engine: Engine
    settings: Settings

    def _track(self) -> None: ...

    async def run_region(self, interaction: discord.Interaction, grid: MessageKey, text: str) -> None: ...


def _runner(interaction: discord.Interaction) -> GridRunner:
    handler = getattr(interaction.client, "redraw_handler", None)
    assert handler is not None, "the client carries no Redraw handler"
    return handler  # type: ignore[no-any-return]


class GridButtonItem(ui.DynamicItem[ui.Button[Any]], template=r"g:[sdc]:[0-9]+:[0-9]+:[0-9a-f]{4}"):
    def __init__(self, button: GridButton, label: str = "", style: discord.ButtonStyle | None = None) -> None:
        super().__init__(
            ui.Button(
                label=label or button.step.value,
                custom_id=grid_id(button.step, button.turn_id, button.image_index, button.cells),
                style=style or discord.ButtonStyle.secondary,
            )
        )
        self.button = button

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> GridButtonItem:
        button = parse(match.string)
        if not isinstance(button, GridButton):
            raise ValueError(f"not a grid button: {match.string!r}")
        return cls(button, getattr(item, "label", "") or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        await press(_runner(interaction), interaction, self.button)


def grid_view(view: GridView, paint: ui.Button[ui.View] | None = None) -> ui.View:
    """4 rows of 4 cells, then All, None, Done, Cancel (Discord: 5 rows of at most 5), and
    ``paint`` (🖌, a link to the painter) last."""
    items = ui.View(timeout=None)

    def add(label: str, step: GridStep, cells: frozenset[int], row: int, style: discord.ButtonStyle) -> None:
        item = GridButtonItem(GridButton(step, view.turn_id, view.image_index, cells), label, style)
        item.row = row
        items.add_item(item)

    if not view.ask:
        for index in range(regions.CELL_COUNT):
            chosen = index in view.cells
            label = f"{CHOSEN} {regions.cell_label(index)}" if chosen else regions.cell_label(index)
            style = discord.ButtonStyle.primary if chosen else discord.ButtonStyle.secondary
            add(label, GridStep.SHOW, regions.toggled(view.cells, index), index // regions.COLUMNS, style)
        add(view.labels.all, GridStep.SHOW, regions.ALL_CELLS, 4, discord.ButtonStyle.secondary)
        add(view.labels.none, GridStep.SHOW, regions.NO_CELLS, 4, discord.ButtonStyle.secondary)
        add(view.labels.done, GridStep.DONE, view.cells, 4, discord.ButtonStyle.success)
    add(view.labels.cancel, GridStep.CANCEL, view.cells, 4, discord.ButtonStyle.danger)
    if paint is not None:
        paint.row = 4
        items.add_item(paint)
    items.stop()
    return items


def _file(view: GridView) -> discord.File:
    assert view.overlay is not None
    return discord.File(io.BytesIO(view.overlay), filename="grid.jpg")


async def open_grid(runner: GridRunner, interaction: discord.Interaction, button: ActionButton) -> None:
    """✏️: the grid, to the presser alone."""
    message = interaction.message
    if message is None:
        return
    runner._track()
    await interaction.response.defer(ephemeral=True, thinking=True)
    locale = interaction_locale(interaction)
    user = str(interaction.user.id)
    outcome = await runner.engine.open_grid(
        ActionPress(button.kind, button.turn_id, key_of(message), user, locale)
    )
    view = outcome.view
    if view is None or view.overlay is None:
        await interaction.edit_original_response(content=outcome.notice[:2000] or "…")
        return
    paint = await _paint(runner, interaction, key_of(message).chat_id, view, locale)
    shown = await interaction.edit_original_response(
        content=view.text[:2000], attachments=[_file(view)], view=grid_view(view, paint)
    )
    await runner.engine.grid_shown(view, key_of(shown), user)


async def press(runner: GridRunner, interaction: discord.Interaction, button: GridButton) -> None:
    """A cell, All, None, Done (the form) or Cancel."""
    message = interaction.message
    if message is None:
        return
    runner._track()
    locale = interaction_locale(interaction)
    grid = key_of(message)
    outcome = await runner.engine.press_grid(
        GridPress(
            button.step,
            button.turn_id,
            button.image_index,
            button.cells,
            grid,
            str(interaction.user.id),
            locale,
        )
    )
    view = outcome.view
    if outcome.refused or (view is None and not outcome.closed):
        await interaction.response.send_message(outcome.notice[:2000] or "…", ephemeral=True)
    elif outcome.closed or view is None:
        await interaction.response.edit_message(content=outcome.notice[:2000], attachments=[], view=None)
    elif view.ask:
        await interaction.response.send_modal(
            ChangeModal(
                render("discord_region_title", locale),
                render("discord_region_what", locale),
                lambda answered, change: runner.run_region(answered, grid, change),
            )
        )
    else:
        paint = await _paint(runner, interaction, grid.chat_id, view, locale)
        await interaction.response.edit_message(
            content=view.text[:2000], attachments=[_file(view)], view=grid_view(view, paint)
        )


async def _paint(
    runner: GridRunner, interaction: discord.Interaction, chat_id: str, grid: GridView, locale: str
) -> ui.Button[ui.View] | None:
    """🖌 for the one who opened the grid (the engine refuses anyone else's presses). Not
    where the bot can't post itself (a user-installed command elsewhere): a page's submit
    may come long after the interaction that could have carried the answer expired."""
    if runner.settings.redraw_public_url is None or not reachable(interaction, interaction.client):
        return None
    user = await runner.engine.store.user("discord", str(interaction.user.id))
    shown_in = effective(user, locale)
    return paint_button(
        runner.settings, chat_id, interaction.user.id, grid.turn_id, shown_in, image_index=grid.image_index
    )
