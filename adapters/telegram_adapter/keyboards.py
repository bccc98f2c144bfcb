"""Inline keyboards: the engine's actions and settings views as Telegram buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.buttons import action_id, setting_id
from bot.engine.seams import Action, SettingsView

ROW_WIDTH = 4
# Telegram keyboards have no headings: a mark per setting tells the rows apart.
SETTING_MARKS = {"backend": "⚙️", "size": "📐", "quality": "✨", "format": "🖼"}


# The web pages a button may lead to (adapters/telegram_adapter/painter.py).
Page = Literal["paint", "versions"]


def press_data(page: Page, turn_id: int, image_index: int = 0) -> str:
    """A button leading to a web page by the presser's private chat: ``wp:<turn>``,
    ``wv:<turn>``; ``wp:<turn>.<index>`` paints another of the turn's pictures than the first."""
    return f"w{page[0]}:{turn_id}" + (f".{image_index}" if image_index else "")


def action_keyboard(actions: Sequence[Action]) -> InlineKeyboardMarkup | None:
    """Two buttons a row (four fit the result: regenerate, variations / original, undo)."""
    if not actions:
        return None
    buttons = [
        InlineKeyboardButton(
            action.label or action.kind.value, callback_data=action_id(action.kind, action.turn_id)
        )
        for action in actions
    ]
    return InlineKeyboardMarkup([buttons[index : index + 2] for index in range(0, len(buttons), 2)])


def settings_keyboard(view: SettingsView) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    for group in view.groups:
        mark = SETTING_MARKS.get(group.name, "•")
        buttons = [
            InlineKeyboardButton(
                f"{mark} {option.label}{' ✓' if option.value == group.current else ''}",
                callback_data=setting_id(group.name, option.value),
            )
            for option in group.options
        ]
        rows += [buttons[index : index + ROW_WIDTH] for index in range(0, len(buttons), ROW_WIDTH)]
    return InlineKeyboardMarkup(rows)


def settings_text(view: SettingsView) -> str:
    legend = " · ".join(f"{SETTING_MARKS.get(group.name, '•')} {group.title}" for group in view.groups)
    return f"{view.text}\n{legend}"
