"""The web pages served by a running bot (REDRAW_PUBLIC_URL set) on 127.0.0.1, and a
page's submit made over HTTP, for the platform tests."""

from __future__ import annotations

import io
import json
import socket
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from PIL import Image

from adapters.web import tokens
from adapters.web.ports import Claim, Purpose
from adapters.web.telegram_webapp import sign_init_data
from bot.app.config import Settings


def serve_on_localhost() -> dict[str, Any]:
    """Settings that serve the pages on a free port of 127.0.0.1 (not every interface)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    return {
        "redraw_public_url": f"http://127.0.0.1:{port}",
        "redraw_web_port": port,
        "redraw_web_listen": "127.0.0.1",
    }


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


def claim_of(settings: Settings, url: str, purpose: Purpose = "paint") -> Claim:
    return tokens.verify(tokens.signing_key(settings), token_of(url), purpose)


def init_data(user_id: int, bot_token: str) -> str:
    fields = {"user": json.dumps({"id": user_id, "first_name": "Ada"}), "auth_date": str(int(time.time()))}
    fields["hash"] = sign_init_data(fields, bot_token)
    return urlencode(fields)


def mask_png(width: int, height: int, box: tuple[int, int, int, int]) -> bytes:
    """Opaque, transparent inside ``box`` (change there)."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    image.paste((0, 0, 0, 0), box)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def submit(
    url: str, text: str, mask: bytes, *, submission: str, init: str | None = None
) -> tuple[int, dict[str, Any]]:
    """What the painter page posts: ``url`` is the painter's link."""
    form = aiohttp.FormData()
    form.add_field("text", text)
    form.add_field("submission", submission)
    if init is not None:
        form.add_field("initData", init)
    form.add_field("mask", mask, filename="mask.png", content_type="image/png")
    parts = urlsplit(url)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{parts.scheme}://{parts.netloc}/paint", params={"t": token_of(url)}, data=form
        ) as response,
    ):
        return response.status, await response.json()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def post_raw(url: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    """A body the page posted, posted again (a retrying browser)."""
    parts = urlsplit(url)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{parts.scheme}://{parts.netloc}/paint",
            params={"t": token_of(url)},
            data=body,
            headers={"Content-Type": content_type},
        ) as response,
    ):
        return response.status, await response.json()
