"""What a pressed button means, in a few bytes (Telegram allows 64, Discord 100).

An action button names its kind and turn (``a:r:42``); a settings button names
the setting and the value (``s:size:1536x1024``); a settings menu (Discord's
select menus, whose pick brings the value) names the setting (``s:size``). Nothing is kept in memory, so a
button keeps working after a restart, on any instance.

A region grid's button names its step, the turn, which of its pictures, and the
cells chosen once it is pressed (``g:s:42:0:0013``, :func:`bot.images.regions.encode_cells`):
at most 31 bytes, so toggling needs no state anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.seams import ActionKind, GridStep
from bot.images import regions

ACTION_CODES: dict[ActionKind, str] = {
    ActionKind.REGENERATE: "r",
    ActionKind.VARIATIONS: "v",
    ActionKind.ORIGINAL: "o",
    ActionKind.UNDO: "u",
    ActionKind.CANCEL: "c",
    ActionKind.RETRY: "t",
    ActionKind.REGION: "e",
    ActionKind.VERSIONS: "h",
    # Adapters render it as a link or a page button, never as this; known so every kind has a code.
    ActionKind.ALL_VERSIONS: "w",
}
_KINDS = {code: kind for kind, code in ACTION_CODES.items()}


@dataclass(frozen=True)
class ActionButton:
    kind: ActionKind
    turn_id: int


@dataclass(frozen=True)
class GridButton:
    step: GridStep
    turn_id: int
    image_index: int
    cells: frozenset[int]


@dataclass(frozen=True)
class SettingButton:
    name: str
    value: str


@dataclass(frozen=True)
class SettingMenu:
    name: str


def action_id(kind: ActionKind, turn_id: int) -> str:
    return f"a:{ACTION_CODES[kind]}:{turn_id}"


def grid_id(step: GridStep, turn_id: int, image_index: int, cells: frozenset[int]) -> str:
    return f"g:{step.value}:{turn_id}:{image_index}:{regions.encode_cells(cells)}"


def setting_id(name: str, value: str) -> str:
    return f"s:{name}:{value}"


def setting_menu_id(name: str) -> str:
    return f"s:{name}"


def parse(data: str | None) -> ActionButton | GridButton | SettingButton | SettingMenu | None:
    """The button behind ``data``; None for anything we did not make."""
    if not data:
        return None
    prefix, _, rest = data.partition(":")
    if prefix == "a":
        code, _, turn = rest.partition(":")
        if code in _KINDS and turn.isdigit():
            return ActionButton(_KINDS[code], int(turn))
    elif prefix == "g":
        return _grid(rest)
    elif prefix == "s":
        name, colon, value = rest.partition(":")
        if name and not colon:
            return SettingMenu(name)
        if name and value:
            return SettingButton(name, value)
    return None


_STEPS = {step.value: step for step in GridStep}


def _grid(rest: str) -> GridButton | None:
    parts = rest.split(":")
    if len(parts) != 4 or parts[0] not in _STEPS or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    if not (parts[1].isascii() and parts[2].isascii() and len(parts[2]) <= 2):
        return None
    try:
        cells = regions.decode_cells(parts[3])
    except ValueError:
        return None
    return GridButton(_STEPS[parts[0]], int(parts[1]), int(parts[2]), cells)
