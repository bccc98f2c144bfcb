"""Another web server on 127.0.0.1, where a hostile answer's links point.

For the bot it is "somewhere on the bot's own network": links to it must be refused
unless the operator allows private links. It records every request (path and Host
header), so a test can tell whether the bot ever reached it.

- ``/png/{colour}``: a real PNG (``image/png``);
- ``/octet/{colour}``: the same PNG as ``application/octet-stream`` (magic bytes only);
- ``/html``: a web page (``text/html``), as a link to a login page would give;
- ``/redirect?to=URL``: a 302 to ``URL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.openai_server import COLOURS, draw_png


@dataclass
class Visit:
    path: str
    host: str


class LinkHost:
    def __init__(self) -> None:
        self.visits: list[Visit] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/png/{colour}", self._png)
        app.router.add_get("/octet/{colour}", self._octet)
        app.router.add_get("/html", self._html)
        app.router.add_get("/redirect", self._redirect)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.url("/")

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def redirect_url(self, to: str) -> str:
        return self.url(f"/redirect?{urlencode({'to': to})}")

    def _visit(self, request: web.Request) -> None:
        self.visits.append(Visit(request.path_qs, request.headers.get("Host", "")))

    async def _png(self, request: web.Request) -> web.Response:
        self._visit(request)
        return web.Response(
            body=draw_png((64, 64), COLOURS[request.match_info["colour"]]), content_type="image/png"
        )

    async def _octet(self, request: web.Request) -> web.Response:
        self._visit(request)
        body = draw_png((64, 64), COLOURS[request.match_info["colour"]])
        return web.Response(body=body, content_type="application/octet-stream")

    async def _html(self, request: web.Request) -> web.Response:
        self._visit(request)
        return web.Response(text="<html><body>Sign in</body></html>", content_type="text/html")

    async def _redirect(self, request: web.Request) -> web.Response:
        self._visit(request)
        raise web.HTTPFound(request.query["to"])
