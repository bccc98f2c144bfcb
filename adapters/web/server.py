"""The bot's own web server: the mask painter and a chat's version tree.

Routes (``t`` is always a signed token, see :mod:`adapters.web.tokens`):

- ``GET /paint?t=`` the painter page; ``GET /picture?t=`` the picture it paints on;
  ``POST /paint?t=`` (multipart: ``text``, ``mask`` PNG, ``submission``, and ``initData``
  inside Telegram) makes the turn and answers JSON. Its token is in the URL so that a
  stranger's post is refused before its body (up to 8 MB) is read, and at most
  ``SUBMITS_AT_ONCE`` bodies are read at a time (one per user), each within ``SUBMIT_READ_S``;
- ``GET /versions?t=`` the chat's tree; ``GET /thumb?t=&turn=`` and
  ``GET /original?t=&turn=`` a version's thumbnail and original, for turns of that chat only.

Pages use relative links, so the server may sit under a path of ``REDRAW_PUBLIC_URL``
behind a proxy that strips it. No access log: the query strings are credentials.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.web import pages, tokens
from adapters.web.masks import MaskCoversEverything, check_mask
from adapters.web.ports import Claim, PictureInfo, Purpose, RegionEditor
from adapters.web.telegram_webapp import InitDataError, check_init_data
from bot.app.config import Settings
from bot.errors import RedrawError, StartupError
from bot.images.imaging import jpeg_preview
from bot.images.offload import run_cpu
from bot.messages import render_error

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
# The mask (the image API takes up to 4 MB; the page's masks are far smaller) and the text.
MAX_BODY_BYTES = 8 * 1024 * 1024 + 256 * 1024
# Bodies read at once, and how long one may take: a slow sender can't hold the server's memory.
SUBMITS_AT_ONCE = 4
SUBMIT_READ_S = 30.0
THUMB_SIDE = 320
THUMB_CACHE = 256
# The claim "web:<id>" fits inbound_keys.message_id (64 characters).
_SUBMISSION = re.compile(r"[A-Za-z0-9_-]{8,60}")
# Telegram Web (web.telegram.org) shows Mini Apps in a frame; the apps use a webview.
FRAME_ANCESTORS = "'self' https://web.telegram.org https://*.telegram.org"
CSP = (
    "default-src 'none'; script-src 'self' https://telegram.org; style-src 'self'; "
    "img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    f"frame-ancestors {FRAME_ANCESTORS}"
)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    title: str
    explanation: str


INVALID = Refusal(
    403,
    "This link is not valid",
    "It was changed or cut short. Open the page again from the button under the picture in the chat.",
)
EXPIRED = {
    "paint": Refusal(
        410,
        "This link has expired",
        "Painter links last 24 hours. Press the button under the picture again for a fresh one.",
    ),
    "versions": Refusal(
        410,
        "This link has expired",
        "Version links last 7 days. Ask for the versions in the chat again for a fresh one.",
    ),
}
FOREIGN = Refusal(
    403,
    "This link is someone else's",
    "It was made for another person. Open the painter from your own button under the picture.",
)
WRONG_CHAT = Refusal(403, "This link is not valid", "That picture is not in the chat this link was made for.")
TOO_LARGE = "The painted mask is too large to send. Try a simpler shape."
SLOW_SEND = "The page took too long to send. Check the connection and try again."
STILL_SENDING = "Your last change is still being sent. Wait for its answer, then try again."
UNREADABLE = "The page sent something the bot can't read. Reload it and try again."
GONE = Refusal(404, "This picture is no longer available", "It may have been deleted from the bot's storage.")


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal
        super().__init__(refusal.title)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if not response.content_type.startswith("text/html"):
        # Pages may be framed by Telegram Web (frame-ancestors says by whom); nothing else.
        headers["X-Frame-Options"] = "DENY"
    headers.setdefault("Cache-Control", "no-store")


def _html(refusal: Refusal) -> web.Response:
    return web.Response(
        status=refusal.status,
        text=pages.error_page(refusal.title, refusal.explanation),
        content_type="text/html",
    )


def _json(status: int, **fields: Any) -> web.Response:
    return web.json_response(fields, status=status)


def _refused(refused: Refused) -> web.Response:
    return _json(refused.refusal.status, error=refused.refusal.title, detail=refused.refusal.explanation)


class WebPages:
    """The handlers, over a RegionEditor. ``clock`` is for tests."""

    def __init__(
        self,
        editor: RegionEditor,
        key: bytes,
        telegram_token: str | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.editor = editor
        self.key = key
        self.telegram_token = telegram_token
        self.clock = clock
        self._thumbs: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
        self._reading = asyncio.Semaphore(SUBMITS_AT_ONCE)
        # Whose bodies are being read: one at a time per user, so one link can't hold every reader.
        self._readers: set[tuple[str, str]] = set()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.on_response_prepare.append(_security_headers)
        app.router.add_get("/paint", self.painter)
        app.router.add_post("/paint", self.submit)
        app.router.add_get("/picture", self.picture)
        app.router.add_get("/versions", self.versions)
        app.router.add_get("/thumb", self.thumb)
        app.router.add_get("/original", self.original)
        app.router.add_static("/static", STATIC, append_version=False)
        return app

    def _claim(self, token: str, purpose: Purpose) -> Claim:
        try:
            return tokens.verify(self.key, token, purpose, now=self.clock())
        except tokens.TokenError as error:
            log.info("web: refused a %s token (%s)", purpose, error)
            raise Refused(EXPIRED[purpose] if error.reason == "expired" else INVALID) from None

    async def _picture(self, claim: Claim) -> PictureInfo:
        picture = await self.editor.picture(claim.turn_id, claim.image_index)
        if picture is None:
            raise Refused(GONE)
        if (picture.platform, picture.chat_id) != (claim.platform, claim.chat_id):
            raise Refused(WRONG_CHAT)
        return picture

    async def painter(self, request: web.Request) -> web.Response:
        token = request.query.get("t", "")
        try:
            picture = await self._picture(self._claim(token, "paint"))
        except Refused as refused:
            return _html(refused.refusal)
        return web.Response(
            text=pages.painter_page(token, picture.width, picture.height), content_type="text/html"
        )

    async def picture(self, request: web.Request) -> web.Response:
        try:
            picture = await self._picture(self._claim(request.query.get("t", ""), "paint"))
        except Refused as refused:
            return _html(refused.refusal)
        return web.Response(
            body=picture.data, content_type=picture.mime, headers={"Cache-Control": "private, max-age=3600"}
        )

    def _telegram_user(self, claim: Claim, init_data: str) -> None:
        """initData must be Telegram's and name the token's user (Telegram links always carry it)."""
        if claim.platform != "telegram" or self.telegram_token is None:
            raise Refused(FOREIGN)
        try:
            user_id = check_init_data(init_data, self.telegram_token, now=self.clock())
        except InitDataError as error:
            log.info("web: refused Telegram initData (%s)", error)
            raise Refused(INVALID) from None
        if user_id != claim.user_id:
            raise Refused(FOREIGN)

    async def _form(self, request: web.Request, claim: Claim) -> Mapping[str, object] | web.Response:
        """The posted form, or the refusal to answer instead."""
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _json(413, error=TOO_LARGE)
        reader = (claim.platform, claim.user_id)
        if reader in self._readers:
            return _json(429, error=STILL_SENDING)
        if self._reading.locked():
            return _json(503, error="The bot is busy with other pictures. Try again in a moment.")
        self._readers.add(reader)
        try:
            async with self._reading:
                async with asyncio.timeout(SUBMIT_READ_S):
                    return await request.post()
        except web.HTTPRequestEntityTooLarge:
            return _json(413, error=TOO_LARGE)
        except TimeoutError:
            return _json(408, error=SLOW_SEND)
        except ValueError:
            return _json(400, error=UNREADABLE)
        finally:
            self._readers.discard(reader)

    async def submit(self, request: web.Request) -> web.Response:
        try:
            # The link first: a post without a good one is refused before its body is read.
            claim = self._claim(request.query.get("t", ""), "paint")
            picture = await self._picture(claim)
        except Refused as refused:
            return _refused(refused)
        form = await self._form(request, claim)
        if isinstance(form, web.Response):
            return form
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        mask = form.get("mask")
        try:
            # Telegram's links open as Mini Apps only: the user must be the link's, by initData.
            if claim.platform == "telegram" or fields.get("initData"):
                self._telegram_user(claim, fields.get("initData", ""))
        except Refused as refused:
            return _refused(refused)
        text = fields.get("text", "").strip()
        if not text:
            return _json(400, error="Say what should change in the painted area.")
        if not isinstance(mask, web.FileField):
            return _json(400, error="Paint over the area to change first.")
        data = mask.file.read(MAX_BODY_BYTES + 1)
        try:
            await run_cpu(check_mask, data, picture.width, picture.height)
        except RedrawError as error:
            return _json(422, error=render_error(error, claim.locale))
        except MaskCoversEverything:
            return _json(
                422,
                error="The painted area covers the whole picture. Leave what should stay unpainted, "
                "or reply to the picture in the chat to change all of it.",
            )
        submission = fields.get("submission", "")
        if not _SUBMISSION.fullmatch(submission):
            submission = uuid.uuid4().hex
        try:
            await self.editor.submit_region(claim, text, data, submission)
        except RedrawError as error:
            return _json(422, error=render_error(error, claim.locale))
        except Exception:
            log.exception("web: a region edit of turn %d failed", claim.turn_id)
            return _json(500, error="Something went wrong on the bot's side and nothing was sent. Try again.")
        log.info("web: region edit of turn %d submitted", claim.turn_id)
        return _json(
            200, ok=True, message="Sent. The new picture will appear in the chat, replying to this one."
        )

    async def versions(self, request: web.Request) -> web.Response:
        token = request.query.get("t", "")
        try:
            claim = self._claim(token, "versions")
        except Refused as refused:
            return _html(refused.refusal)
        nodes = await self.editor.chat_tree(claim.platform, claim.chat_id)
        return web.Response(text=pages.versions_page(claim, nodes, token), content_type="text/html")

    async def _version(self, request: web.Request) -> tuple[Claim, int]:
        claim = self._claim(request.query.get("t", ""), "versions")
        turn = request.query.get("turn", "")
        if not turn.isdigit() or len(turn) > 18:
            raise Refused(GONE)
        return claim, int(turn)

    async def thumb(self, request: web.Request) -> web.Response:
        try:
            claim, turn = await self._version(request)
            key = (claim.platform, claim.chat_id, turn)
            thumb = self._thumbs.get(key)
            if thumb is None:
                original = await self.editor.original(claim.platform, claim.chat_id, turn)
                if original is None:
                    raise Refused(GONE)
                thumb = await run_cpu(jpeg_preview, original.data, THUMB_SIDE, 80)
                self._thumbs[key] = thumb
                while len(self._thumbs) > THUMB_CACHE:
                    self._thumbs.popitem(last=False)
            self._thumbs.move_to_end(key)
        except Refused as refused:
            return _html(refused.refusal)
        return web.Response(
            body=thumb, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
        )

    async def original(self, request: web.Request) -> web.Response:
        try:
            claim, turn = await self._version(request)
            original = await self.editor.original(claim.platform, claim.chat_id, turn)
            if original is None:
                raise Refused(GONE)
        except Refused as refused:
            return _html(refused.refusal)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", original.filename)[:100] or f"redraw-{turn}"
        return web.Response(
            body=original.data,
            content_type=original.mime,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


class WebServer:
    """The running server: ``port`` is where it listens (the one asked, or a free one for 0)."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self.port = port

    async def close(self) -> None:
        await self._runner.cleanup()


async def serve(pages_: WebPages, host: str, port: int) -> WebServer:
    runner = web.AppRunner(pages_.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise StartupError(
            f"the web pages can't listen on {host}:{port} (REDRAW_WEB_PORT): {error.strerror}"
        ) from None
    bound = port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        bound = server.sockets[0].getsockname()[1]
    return WebServer(runner, bound)


async def start(
    settings: Settings, editor: RegionEditor, *, host: str | None = None, port: int | None = None
) -> WebServer:
    """Serve the pages on REDRAW_WEB_LISTEN:REDRAW_WEB_PORT (or ``host``:``port``) until ``close()``.
    Raises StartupError, in one line, when the port is taken or nothing can sign links."""
    try:
        key = tokens.signing_key(settings)
    except ValueError as error:
        raise StartupError(str(error)) from None
    telegram = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else None
    server = await serve(
        WebPages(editor, key, telegram),
        settings.redraw_web_listen if host is None else host,
        settings.redraw_web_port if port is None else port,
    )
    log.info("web pages on port %d for %s", server.port, settings.redraw_public_url)
    return server
