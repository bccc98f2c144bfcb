"""The seams between adapters and the engine: one neutral inbound message, and the
channel the engine answers through. Adapters build these; the engine never parses
platform ids."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.engine.records import MessageKey


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True)
class ImageInput:
    """An image a user sent (or replied to). Loaded only once the engine needs it, and only
    after what the platform says of it (type, bytes, pixels) has passed the checks."""

    load: Callable[[], Awaitable[bytes]]
    mime: str | None = None
    source: MessageKey | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    # The most the platform lets the bot fetch; None: no limit of its own.
    max_bytes: int | None = None


@dataclass(frozen=True)
class Inbound:
    key: MessageKey
    user_id: str
    user_name: str
    chat_kind: ChatKind
    text: str = ""
    locale: str | None = None
    images: tuple[ImageInput, ...] = ()
    reply_to: MessageKey | None = None
    # A command ("draw", "new", "usage", "settings", "cancel", "history"), its arguments in ``text``.
    command: str | None = None
    # Mentioned, commanded, or replying to the bot (adapters know who the bot is).
    addressed: bool = False
    # The user administers this chat (group admins; anyone in a private chat).
    chat_admin: bool = False
    # What the user sent instead of a picture ("sticker", "voice", "video", "audio", "animation",
    # "file", "other"): answered when addressed, never drawn.
    unsupported: str | None = None
    # Per-request overrides of the chat's settings ("size", "quality"), e.g. /imagine's options.
    params: Mapping[str, str] = field(default_factory=dict)
    # What the adapter sees of the replied message: whose it is, and when it is one of the
    # bot's pictures, the turn its own buttons name (found even if its key was never stored).
    reply_user_id: str | None = None
    reply_bot_picture: bool = False
    reply_turn: int | None = None
    # Which of that turn's pictures the replied message shows (several pictures, one message each).
    reply_image: int = 0
    # The adapter's own wording of some messages, where the platform differs (``"discord"``:
    # slash commands): ``help`` is then rendered from ``help_discord`` when the catalogue has it.
    wording: str | None = None
    # A region edit's mask: a PNG the size of the replied picture, fully transparent where to
    # change (the painter page). With ``reply_to`` naming one of the bot's pictures, the turn
    # continues that picture and changes only that area; the mask is checked against the
    # picture before any upstream call.
    mask: bytes | None = field(default=None, repr=False)
    # Makes the turn once-only when ``key`` is not a user's message of its own (a painter page's
    # submit answers as a reply to the picture, ``key`` = the picture's key, claim = its token id).
    claim: str | None = None
    # The chat (platform, chat id) whose /settings a new picture takes, where this chat can't
    # have its own (an inline or guest message: the user's private chat with the bot). None:
    # this chat's.
    settings_from: tuple[str, str] | None = None

    @property
    def chat(self) -> tuple[str, str]:
        return self.key.platform, self.key.chat_id


class ActionKind(StrEnum):
    REGENERATE = "regenerate"
    VARIATIONS = "variations"
    ORIGINAL = "original"
    UNDO = "undo"
    CANCEL = "cancel"
    RETRY = "retry"
    # ✏️ Edit a region: the adapter opens the grid (Engine.open_grid) instead of Engine.press.
    REGION = "region"
    # 🌳 Versions: the picture's lineage as a contact sheet.
    VERSIONS = "versions"
    # 🌳 All versions, on the sheet: the chat's version tree as a web page (only where the
    # pages are served). The adapter makes it a link for the one who asked, or a way there
    # for a message others see too.
    ALL_VERSIONS = "all_versions"


@dataclass(frozen=True)
class Action:
    """A button: adapters render it with ``label`` (in the chat's language) and map
    presses back to (kind, turn id)."""

    kind: ActionKind
    turn_id: int
    label: str = ""


@dataclass(frozen=True)
class ActionPress:
    """Someone pressed a button on ``message``."""

    kind: ActionKind
    turn_id: int
    message: MessageKey
    user_id: str
    locale: str | None = None


class GridStep(StrEnum):
    """What a region grid's button does."""

    # Show the grid with these cells chosen (a cell toggled, all, none).
    SHOW = "s"
    # Done: now the user says what to change.
    DONE = "d"
    CANCEL = "c"


@dataclass(frozen=True)
class GridPress:
    """Someone pressed a button of the region grid ``message``. Buttons carry the whole
    state (the turn, which of its pictures, the cells chosen after this press)."""

    step: GridStep
    turn_id: int
    image_index: int
    cells: frozenset[int]
    message: MessageKey
    user_id: str
    locale: str | None = None


@dataclass(frozen=True)
class GridLabels:
    all: str
    none: str
    done: str
    cancel: str


@dataclass(frozen=True, repr=False)
class GridView:
    """A region grid to show: ``overlay`` is the picture with the labelled grid (chosen cells
    tinted; a JPEG), ``text`` its caption. With ``ask``, Done was pressed: the text asks for
    the change and only Cancel is left to press."""

    turn_id: int
    image_index: int
    cells: frozenset[int]
    text: str
    labels: GridLabels
    overlay: bytes | None = None
    ask: bool = False

    def __repr__(self) -> str:
        return f"GridView(turn {self.turn_id}/{self.image_index}, {sorted(self.cells)}, ask={self.ask})"


@dataclass(frozen=True)
class GridOutcome:
    """What to show after opening a grid or pressing one of its buttons: the grid (None:
    unchanged), a short notice for the presser (``refused``: worth an alert), or, when
    ``closed``, the grid removed."""

    view: GridView | None = None
    notice: str = ""
    refused: bool = False
    closed: bool = False


@dataclass(frozen=True)
class SettingOption:
    value: str
    label: str


@dataclass(frozen=True)
class SettingGroup:
    """One setting: its name (``size``), a title in the chat's language, the value in
    force, and the values to offer."""

    name: str
    title: str
    current: str
    options: tuple[SettingOption, ...]


@dataclass(frozen=True)
class SettingsView:
    """A chat's settings as something to pick from (a keyboard, select menus)."""

    text: str
    groups: tuple[SettingGroup, ...]


@dataclass(frozen=True)
class SettingPick:
    """Someone picked ``value`` for setting ``name`` on the settings view ``message``."""

    message: MessageKey
    user_id: str
    chat_kind: ChatKind
    name: str
    value: str
    chat_admin: bool = False
    locale: str | None = None
    # As :attr:`Inbound.wording`.
    wording: str | None = None


@dataclass(frozen=True)
class SettingOutcome:
    """A short notice for the picker, and the view to show now (None: unchanged).
    ``refused``: the pick was not allowed or not valid (worth an alert, not a toast)."""

    notice: str
    view: SettingsView | None = None
    refused: bool = False


@dataclass(frozen=True, repr=False)
class OutgoingImage:
    data: bytes
    mime: str
    width: int
    height: int

    def __repr__(self) -> str:
        return f"OutgoingImage({self.mime}, {self.width}x{self.height})"


class Progress(Protocol):
    """A status message about one picture. Nothing is sent until :meth:`show`; then only
    the latest state goes out, when the platform's budget has room after results. Never
    waits for the platform."""

    def show(self, text: str, preview: bytes | None = None) -> None:
        """The state to show now (``preview``: a partial image, shown until the next one)."""
        ...

    async def close(self, *, keep: bool) -> MessageKey | None:
        """No more updates; anything not yet sent is dropped. With ``keep``, the key of the
        message on screen, for the answer to take its place (``replace`` below); otherwise
        the message is removed. None when nothing is on screen for this picture."""
        ...


class Channel(Protocol):
    """What the engine may do in a chat. Every method answers in the chat of ``reply_to``,
    as a reply to that message; an empty ``message_id`` means there is none to reply to.
    ``replace`` names a status message (from :meth:`Progress.close`) that the answer takes
    the place of: edited into the answer where the platform allows one call to do it,
    removed otherwise."""

    def progress(self, reply_to: MessageKey, actions: Sequence[Action], label: str = "") -> Progress:
        """The status of one picture; ``label`` names it where several share one message."""
        ...

    async def send_images(
        self,
        reply_to: MessageKey,
        images: Sequence[OutgoingImage],
        caption: str,
        actions: Sequence[Action],
        *,
        replace: MessageKey | None = None,
    ) -> list[MessageKey]:
        """One key per image, in order; then the key of any message apart from them that
        carries the caption and buttons (under an album, which can't carry buttons)."""
        ...

    async def send_text(
        self,
        reply_to: MessageKey,
        text: str,
        actions: Sequence[Action] = (),
        *,
        replace: MessageKey | None = None,
    ) -> MessageKey: ...

    async def send_file(
        self, reply_to: MessageKey, data: bytes, filename: str, mime: str, locale: str | None = None
    ) -> MessageKey:
        """A file as it is; where it can't be (over an upload limit), the best that fits, saying so
        in ``locale``."""
        ...

    async def send_settings(self, reply_to: MessageKey, view: SettingsView) -> MessageKey:
        """The chat's settings, with a way to pick each one."""
        ...
