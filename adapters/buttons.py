"""What a pressed button means, in a few bytes (Telegram allows 64, Discord 100).

An action button names its kind and turn (``a:r:42``); a settings button names
the setting and the value (``s:size:1536x1024``); a settings menu (Discord's
select menus, whose pick brings the value) names the setting (``s:size``). Nothing is kept in memory, so a
button keeps working after a restart, on any instance.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.seams import ActionKind

ACTION_CODES: dict[ActionKind, str] = {
    ActionKind.REGENERATE: "r",
    ActionKind.VARIATIONS: "v",
    ActionKind.ORIGINAL: "o",
    ActionKind.UNDO: "u",
    ActionKind.CANCEL: "c",
    ActionKind.RETRY: "t",
}
_KINDS = {code: kind for kind, code in ACTION_CODES.items()}


@dataclass(frozen=True)
class ActionButton:
    kind: ActionKind
    turn_id: int


@dataclass(frozen=True)
class SettingButton:
    name: str
    value: str


@dataclass(frozen=True)
class SettingMenu:
    name: str


def action_id(kind: ActionKind, turn_id: int) -> str:
    return f"a:{ACTION_CODES[kind]}:{turn_id}"


def setting_id(name: str, value: str) -> str:
    return f"s:{name}:{value}"


def setting_menu_id(name: str) -> str:
    return f"s:{name}"


def parse(data: str | None) -> ActionButton | SettingButton | SettingMenu | None:
    """The button behind ``data``; None for anything we did not make."""
    if not data:
        return None
    prefix, _, rest = data.partition(":")
    if prefix == "a":
        code, _, turn = rest.partition(":")
        if code in _KINDS and turn.isdigit():
            return ActionButton(_KINDS[code], int(turn))
    elif prefix == "s":
        name, colon, value = rest.partition(":")
        if name and not colon:
            return SettingMenu(name)
        if name and value:
            return SettingButton(name, value)
    return None
