"""The ``redraw.web`` entry point (``pages``): what the composition root calls when
``REDRAW_PUBLIC_URL`` is set. bot/ never imports adapters, so it finds this through
``importlib.metadata.entry_points(group="redraw.web")``, as it finds the platforms.
aiohttp is imported only when the pages are started."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from adapters.web.editor import EngineEditor
from bot.app.config import Settings
from bot.engine.entry import Engine
from bot.engine.seams import Channel

if TYPE_CHECKING:
    from adapters.web.server import WebServer


async def start(settings: Settings, engine: Engine, channels: Mapping[str, Channel]) -> WebServer:
    """Serve the pages for ``engine`` on 0.0.0.0:REDRAW_WEB_PORT, answering in the chats
    through ``channels``; ``await server.close()`` stops them. Raises
    bot.errors.StartupError, in one line, when the port is taken or nothing can sign links
    (no REDRAW_WEB_SECRET and no platform token)."""
    from adapters.web.server import start as serve  # noqa: PLC0415 (aiohttp only now)

    return await serve(settings, EngineEditor(engine, channels))
