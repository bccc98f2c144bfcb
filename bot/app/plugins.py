"""What the core asks of a platform and of the store, and finding them.

Platforms and the store are plugins found through entry points declared in
``pyproject.toml``, as pytest plugins and SQLAlchemy dialects are::

    [project.entry-points."redraw.platforms"]   # one per platform: a PlatformPlugin
    [project.entry-points."redraw.storage"]     # the store: a StoragePlugin

so the core never names an adapter or the database, and a third platform could be a
package of its own. A platform's plugin is loaded only when its token is set
(``Settings.platforms``): a Discord-only deployment never imports python-telegram-bot.
The plugin objects themselves import no platform library; they do in ``build`` and
``check``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from bot.app.config import PLATFORM_TOKENS, Settings
from bot.blobs import BlobStore
from bot.engine.entry import Engine
from bot.engine.seams import Channel
from bot.engine.store import Stats, Store

PLATFORMS_GROUP = "redraw.platforms"
STORAGE_GROUP = "redraw.storage"
WEB_GROUP = "redraw.web"
WEB_PAGES = "pages"
STORAGE = "sql"


class PlatformAdapter(Protocol):
    platform: str
    # Set when taking updates has ended for good: the process exits so a supervisor restarts it.
    lost: asyncio.Event

    @property
    def channel(self) -> Channel: ...

    async def start(self) -> None: ...

    async def recover_receptions(self) -> None:
        """Handle the messages instances that died took but never handled."""
        ...

    async def start_receiving(self) -> None: ...

    async def stop_receiving(self) -> None: ...

    async def close(self) -> None: ...

    def health(self) -> str | None: ...


class PlatformPlugin(Protocol):
    """One platform: ``name`` is its entry point's; ``setting`` the variable that enables it."""

    name: str
    setting: str

    def build(self, settings: Settings, engine: Engine, **options: Any) -> PlatformAdapter:
        """The adapter (it logs in on ``start``). Raises StartupError there, in one line."""
        ...

    async def check(self, settings: Settings) -> str:
        """``redraw check``'s line: who the bot is on the platform. Raises StartupError."""
        ...


class OpenStore(Store, Protocol):
    """The engine's Store, as opened: it has connections to release."""

    async def stats(self, since: datetime) -> Stats: ...

    async def close(self) -> None: ...


class Migrated(Protocol):
    """What ``redraw db upgrade`` did."""

    @property
    def before(self) -> str | None: ...

    @property
    def after(self) -> str: ...

    @property
    def applied(self) -> Sequence[str]: ...


class StoragePlugin(Protocol):
    """The database and the blobs, from plain values. Failures that the operator must fix
    are ``DatabaseUnusable`` (bot.errors), in one line."""

    async def open(self, url: str, data_dir: Path, retention_days: float) -> tuple[OpenStore, BlobStore]:
        """Ready to serve (SQLite upgrades itself; PostgreSQL must be at head), blobs pruned."""
        ...

    def open_store(self, url: str) -> OpenStore:
        """The store alone, as it is (``redraw stats``)."""
        ...

    async def migrate(self, url: str) -> Migrated:
        """``redraw db upgrade``."""
        ...

    async def check(self, url: str) -> str:
        """``redraw check``'s line: where the database is and its schema."""
        ...

    def explain(self, error: BaseException, url: str) -> str:
        """One line for the operator about a database failure; never a password."""
        ...


class WebPages(Protocol):
    """The web pages (the mask painter, the versions page), served while the bot runs."""

    async def close(self) -> None: ...


class StartWebPages(Protocol):
    """The ``redraw.web`` entry point: serve the pages for ``engine``, answering in the
    chats through ``channels`` (each platform's)."""

    async def __call__(
        self, settings: Settings, engine: Engine, channels: Mapping[str, Channel]
    ) -> WebPages: ...


def platform_names() -> list[str]:
    """Every installed platform, without loading any: those the settings know first, in
    their order (Telegram, Discord), then any other by name."""
    installed = {entry.name for entry in entry_points(group=PLATFORMS_GROUP)}
    known = [name for name in PLATFORM_TOKENS if name in installed]
    return known + sorted(installed - set(known))


def token_variable(platform: str) -> str:
    """The variable that enables a platform (TELEGRAM_BOT_TOKEN), without loading its plugin."""
    return PLATFORM_TOKENS.get(platform, f"{platform}_bot_token").upper()


def load_platform(name: str) -> PlatformPlugin:
    entries = entry_points(group=PLATFORMS_GROUP, name=name)
    if not entries:
        raise ValueError(f"unknown platform {name!r}")
    plugin: PlatformPlugin = next(iter(entries)).load()
    return plugin


def load_storage() -> StoragePlugin:
    (entry,) = entry_points(group=STORAGE_GROUP, name=STORAGE)
    plugin: StoragePlugin = entry.load()
    return plugin


def load_web_pages() -> StartWebPages:
    (entry,) = entry_points(group=WEB_GROUP, name=WEB_PAGES)
    start: StartWebPages = entry.load()
    return start
