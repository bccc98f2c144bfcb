"""Signed, expiring tokens for the web pages' links.

A token is ``<payload>.<mac>``, both URL-safe base64 without padding. The payload is a
compact JSON array: version, purpose, platform, chat, user, picture (turn id), expiry
(Unix seconds), locale, and which of the turn's pictures (version 2; a version 1 token,
given out before, names the first). The MAC is HMAC-SHA256 over the payload's base64 text under the
signing key, compared in constant time; nothing in a payload is trusted before it.

The key is ``REDRAW_WEB_SECRET`` or, when unset, derived with HMAC from the platform
tokens, so every instance of one bot agrees on it and nothing has to be set. Rotating a
platform token (or setting the secret) invalidates every link given out before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import replace
from typing import Any

from adapters.web.ports import Claim, Purpose
from bot.app.config import PLATFORM_TOKENS, Settings

VERSION = 2
PAINT_TTL_S = 24 * 3600
VERSIONS_TTL_S = 7 * 24 * 3600
TTL_S: dict[Purpose, int] = {"paint": PAINT_TTL_S, "versions": VERSIONS_TTL_S}
# Longer than any token this module makes: anything longer is refused before decoding.
MAX_TOKEN_CHARS = 1024
_PURPOSES: dict[str, Purpose] = {"p": "paint", "v": "versions"}
_CODES = {purpose: code for code, purpose in _PURPOSES.items()}
_DOMAIN = b"redraw-web-token-v1\x00"


class TokenError(Exception):
    """A token refused: ``reason`` is ``invalid`` (tampered, cut, another purpose) or ``expired``."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


def signing_key(settings: Settings) -> bytes:
    """REDRAW_WEB_SECRET, or a key derived from the configured platform tokens."""
    if settings.redraw_web_secret is not None:
        return hashlib.sha256(
            b"redraw-web-secret\x00" + settings.redraw_web_secret.get_secret_value().encode()
        ).digest()
    material = [
        f"{name}={getattr(settings, field).get_secret_value()}"
        for name, field in PLATFORM_TOKENS.items()
        if getattr(settings, field) is not None
    ]
    if not material:
        raise ValueError("the web pages need REDRAW_WEB_SECRET or a platform token to sign their links")
    return hmac.new(b"redraw-web-pages", "\n".join(material).encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, _DOMAIN + payload.encode("ascii"), hashlib.sha256).digest()


def new_claim(
    purpose: Purpose,
    *,
    platform: str,
    chat_id: str | int,
    user_id: str | int,
    turn_id: int,
    locale: str | None = None,
    now: float | None = None,
    image_index: int = 0,
) -> Claim:
    """A claim that expires after its purpose's lifetime (24 h to paint, 7 days for versions)."""
    issued = int(time.time() if now is None else now)
    expires = issued + TTL_S[purpose]
    return Claim(purpose, platform, str(chat_id), str(user_id), turn_id, expires, locale, image_index)


def sign(key: bytes, claim: Claim) -> str:
    fields = [
        VERSION,
        _CODES[claim.purpose],
        claim.platform,
        claim.chat_id,
        claim.user_id,
        claim.turn_id,
        claim.expires_at,
        claim.locale or "",
        claim.image_index,
    ]
    payload = _b64(json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{payload}.{_b64(_mac(key, payload))}"


# Each layout's length: version 1 had no picture index.
_LENGTHS = {1: 8, VERSION: 9}


def _parse(fields: Any) -> Claim:
    if not isinstance(fields, list) or not fields or _LENGTHS.get(fields[0]) != len(fields):
        raise TokenError("invalid", "unknown token layout")
    _, code, platform, chat_id, user_id, turn_id, expires_at, locale, *rest = fields
    image_index = rest[0] if rest else 0
    texts = (platform, chat_id, user_id, locale)
    numbers = (turn_id, expires_at, image_index)
    if code not in _PURPOSES or not all(isinstance(value, str) for value in texts):
        raise TokenError("invalid", "unknown token fields")
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in numbers):
        raise TokenError("invalid", "unknown token fields")
    if image_index < 0:
        raise TokenError("invalid", "unknown token fields")
    purpose = _PURPOSES[code]
    return Claim(purpose, platform, chat_id, user_id, turn_id, expires_at, locale or None, image_index)


def verify(key: bytes, token: str, purpose: Purpose, *, now: float | None = None) -> Claim:
    """The claim ``token`` carries, when it is ours, for ``purpose`` and not expired.
    Raises TokenError otherwise."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise TokenError("invalid", "malformed token")
    payload, _, mac = token.partition(".")
    try:
        given = _unb64(mac)
        expected = _mac(key, payload)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise TokenError("invalid", "malformed token") from None
    if not hmac.compare_digest(given, expected):
        raise TokenError("invalid", "bad signature")
    try:
        claim = _parse(json.loads(_unb64(payload)))
    except (binascii.Error, ValueError):
        raise TokenError("invalid", "unreadable payload") from None
    if claim.purpose != purpose:
        raise TokenError("invalid", f"a {claim.purpose} token used for {purpose}")
    if (time.time() if now is None else now) >= claim.expires_at:
        raise TokenError("expired", "expired")
    return claim


def with_purpose(claim: Claim, purpose: Purpose, *, now: float | None = None) -> Claim:
    """The same user, chat and picture, for another page (a fresh lifetime)."""
    issued = int(time.time() if now is None else now)
    return replace(claim, purpose=purpose, expires_at=issued + TTL_S[purpose])
