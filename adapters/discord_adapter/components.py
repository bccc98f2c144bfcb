"""Buttons and select menus whose ``custom_id`` says everything (``a:r:42``: regenerate
turn 42; ``s:size``: the size menu), handled by discord.py's dynamic items.

Nothing is kept per message: a press is routed by its ``custom_id`` alone, so the
buttons of any message ever sent keep working after a restart, on any instance.
Views are stopped before they are sent, which keeps discord.py from storing one
per message in memory.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import discord
from discord import ui

from adapters.buttons import ActionButton, SettingMenu, action_id, parse, setting_menu_id
from bot.engine.seams import Action, ActionKind, SettingsView

STYLES = {
    ActionKind.CANCEL: discord.ButtonStyle.danger,
    ActionKind.RETRY: discord.ButtonStyle.primary,
}
MAX_OPTIONS = 25
MAX_LABEL = 80


class ComponentHandler(Protocol):
    async def on_action(self, interaction: discord.Interaction, button: ActionButton) -> None: ...

    async def on_setting(self, interaction: discord.Interaction, name: str, value: str) -> None: ...


def _handler(interaction: discord.Interaction) -> ComponentHandler:
    handler = getattr(interaction.client, "redraw_handler", None)
    assert handler is not None, "the client carries no Redraw handler"
    return handler  # type: ignore[no-any-return]


class ActionButtonItem(ui.DynamicItem[ui.Button[Any]], template=r"a:[a-z]:[0-9]+"):
    def __init__(self, button: ActionButton, label: str = "") -> None:
        super().__init__(
            ui.Button(
                label=label[:MAX_LABEL] or button.kind.value,
                custom_id=action_id(button.kind, button.turn_id),
                style=STYLES.get(button.kind, discord.ButtonStyle.secondary),
            )
        )
        self.button = button

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> ActionButtonItem:
        button = parse(match.string)
        if not isinstance(button, ActionButton):
            raise ValueError(f"not an action button: {match.string!r}")
        return cls(button, getattr(item, "label", "") or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        await _handler(interaction).on_action(interaction, self.button)


class SettingSelectItem(ui.DynamicItem[ui.Select[Any]], template=r"s:[a-z_]+"):
    def __init__(self, name: str, select: ui.Select[Any] | None = None) -> None:
        super().__init__(select or ui.Select(custom_id=setting_menu_id(name)))
        self.name = name

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> SettingSelectItem:
        menu = parse(match.string)
        if not isinstance(menu, SettingMenu) or not isinstance(item, ui.Select):
            raise ValueError(f"not a settings menu: {match.string!r}")
        return cls(menu.name, item)

    async def callback(self, interaction: discord.Interaction) -> None:
        values = self.item.values
        if values:
            await _handler(interaction).on_setting(interaction, self.name, values[0])


def _stopped(view: ui.View) -> ui.View:
    view.stop()
    return view


def action_view(actions: Sequence[Action]) -> ui.View | None:
    # 🌳 All versions is a link for one person: Discord offers it to the one who asked alone
    # (an ephemeral follow-up, adapters/discord_adapter/pages.py), never on a message all see.
    shown = [action for action in actions if action.kind is not ActionKind.ALL_VERSIONS]
    if not shown:
        return None
    view = ui.View(timeout=None)
    for action in shown:
        view.add_item(ActionButtonItem(ActionButton(action.kind, action.turn_id), action.label))
    return _stopped(view)


def settings_view(view: SettingsView) -> ui.View:
    """One select menu per setting, the value in force marked as the default."""
    menus = ui.View(timeout=None)
    for group in view.groups[:5]:
        select: ui.Select[Any] = ui.Select(
            custom_id=setting_menu_id(group.name),
            placeholder=group.title[:150],
            min_values=1,
            max_values=1,
        )
        for option in group.options[:MAX_OPTIONS]:
            select.add_option(
                label=option.label[:100], value=option.value[:100], default=option.value == group.current
            )
        menus.add_item(SettingSelectItem(group.name, select))
    return _stopped(menus)


# Discord's limits: a modal's title and a text input's label, and a change's length.
MODAL_TITLE_CHARS = 45
MODAL_TIMEOUT_S = 600.0
MAX_CHANGE = 4000

OnChange = Callable[[discord.Interaction, str], Awaitable[None]]


class ChangeModal(ui.Modal):
    """A form with one question, what should change ("Redraw this", a region's Done);
    its answer goes to ``on_change``."""

    def __init__(self, title: str, question: str, on_change: OnChange) -> None:
        super().__init__(title=title[:MODAL_TITLE_CHARS], timeout=MODAL_TIMEOUT_S)
        self.on_change = on_change
        self.change: ui.TextInput[ChangeModal] = ui.TextInput(
            label=question[:MODAL_TITLE_CHARS],
            style=discord.TextStyle.paragraph,
            min_length=1,
            max_length=MAX_CHANGE,
        )
        self.add_item(self.change)

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        await self.on_change(interaction, self.change.value)
