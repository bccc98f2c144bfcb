"""The ``redraw.web`` entry point (``pages``): what the composition root calls when
``REDRAW_PUBLIC_URL`` is set. bot/ never imports adapters, so it finds this through
``importlib.metadata.entry_points(group="redraw.web")``, as it finds the platforms.
aiohttp is imported only when the pages are started."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.web.ports import RegionEditor
from bot.app.config import Settings

if TYPE_CHECKING:
    from adapters.web.server import WebServer


async def start(settings: Settings, editor: RegionEditor) -> WebServer:
    """Serve the pages on 0.0.0.0:REDRAW_WEB_PORT; ``await server.close()`` stops them.
    Raises bot.errors.StartupError, in one line, when the port is taken or nothing can
    sign links (no REDRAW_WEB_SECRET and no platform token)."""
    from adapters.web.server import start as serve  # noqa: PLC0415 (aiohttp only now)

    return await serve(settings, editor)
