"""The links the platform adapters put on buttons (no aiohttp: cheap to import).

Telegram: a ``web_app`` inline button in private chats (it opens the painter as a Mini
App, which adds signed ``initData``); groups go by the private chat
(:mod:`adapters.telegram_adapter.painter`), never a bearer link in the group. Discord: a
link button on an ephemeral message.
``page_link`` returns None when ``REDRAW_PUBLIC_URL`` is unset: no button then.
"""

from __future__ import annotations

from urllib.parse import urlencode

from adapters.web import tokens
from adapters.web.ports import Claim, Purpose
from bot.app.config import Settings

PAINT_PATH = "/paint"
VERSIONS_PATH = "/versions"
_PATHS: dict[Purpose, str] = {"paint": PAINT_PATH, "versions": VERSIONS_PATH}


def link_for(public_url: str, key: bytes, claim: Claim) -> str:
    """The page ``claim`` opens, under ``public_url``, with its signed token."""
    return f"{public_url.rstrip('/')}{_PATHS[claim.purpose]}?{urlencode({'t': tokens.sign(key, claim)})}"


def page_link(
    settings: Settings,
    purpose: Purpose,
    *,
    platform: str,
    chat_id: str | int,
    user_id: str | int,
    turn_id: int,
    locale: str | None = None,
    now: float | None = None,
    image_index: int = 0,
) -> str | None:
    """The page ``purpose`` for picture ``turn_id`` of this chat (``image_index``: which
    of its pictures), for this user: the painter (valid 24 hours) or the chat's version
    tree with that picture marked (7 days)."""
    if settings.redraw_public_url is None:
        return None
    claim = tokens.new_claim(
        purpose,
        platform=platform,
        chat_id=chat_id,
        user_id=user_id,
        turn_id=turn_id,
        locale=locale,
        now=now,
        image_index=image_index,
    )
    return link_for(settings.redraw_public_url, tokens.signing_key(settings), claim)
