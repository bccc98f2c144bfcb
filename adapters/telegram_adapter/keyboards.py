"""Inline keyboards: the engine's actions and settings views as Telegram buttons."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.buttons import action_id, setting_id
from bot.engine.seams import Action, ActionKind, SettingsView

ROW_WIDTH = 4
# Telegram keyboards have no headings: a mark per setting tells the rows apart.
SETTING_MARKS = {"backend": "⚙️", "size": "📐", "quality": "✨", "format": "🖼"}


# The web pages a button may lead to (adapters/telegram_adapter/painter.py).
Page = Literal["paint", "versions"]


def press_data(page: Page, turn_id: int, image_index: int = 0) -> str:
    """A button leading to a web page by the presser's private chat: ``wp:<turn>``,
    ``wv:<turn>``; ``wp:<turn>.<index>`` paints another of the turn's pictures than the first."""
    return f"w{page[0]}:{turn_id}" + (f".{image_index}" if image_index else "")


def action_keyboard(
    actions: Sequence[Action], page_url: Callable[[Action], str | None] | None = None
) -> InlineKeyboardMarkup | None:
    """Two buttons a row (four fit the result: regenerate, variations / original, undo).
    🌳 All versions is a link where ``page_url`` gives one (a private chat: the page bound to
    its user), else the way there through the presser's private chat (``wv:<turn>``)."""
    if not actions:
        return None
    buttons = [_button(action, page_url) for action in actions]
    return InlineKeyboardMarkup([buttons[index : index + 2] for index in range(0, len(buttons), 2)])


def _button(action: Action, page_url: Callable[[Action], str | None] | None) -> InlineKeyboardButton:
    label = action.label or action.kind.value
    if action.kind is not ActionKind.ALL_VERSIONS:
        return InlineKeyboardButton(label, callback_data=action_id(action.kind, action.turn_id))
    url = page_url(action) if page_url is not None else None
    if url is not None:
        return InlineKeyboardButton(label, url=url)
    return InlineKeyboardButton(label, callback_data=press_data("versions", action.turn_id))


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
