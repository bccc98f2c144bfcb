"""Checking the ``initData`` Telegram gives a Mini App.

Per Telegram's documentation (Mini Apps, "Validating data received via the Mini App"):
the data-check-string is every received field except ``hash``, as ``key=value`` lines
sorted by key and joined with ``\\n``; the secret key is HMAC-SHA256 of the bot token
under the key ``WebAppData``; ``hash`` must be the hex HMAC-SHA256 of the data-check-string
under that secret key. ``auth_date`` says when Telegram signed it: old data is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qsl

# initData older than this is refused (Telegram signs it when the Mini App opens).
MAX_AGE_S = 24 * 3600
# A clock a little ahead of ours is fine; data signed in the future is not.
CLOCK_SKEW_S = 300
MAX_INIT_DATA_CHARS = 8192


class InitDataError(Exception):
    """initData that is not Telegram's for this bot, is stale, or names no user."""


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={value}" for key, value in sorted(fields.items()) if key != "hash")


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """The ``hash`` Telegram would add to ``fields`` (for tests and local trials)."""
    return hmac.new(secret_key(bot_token), data_check_string(fields).encode(), hashlib.sha256).hexdigest()


def check_init_data(
    init_data: str, bot_token: str, *, now: float | None = None, max_age_s: float = MAX_AGE_S
) -> str:
    """The Telegram user id ``init_data`` vouches for. Raises InitDataError."""
    if len(init_data) > MAX_INIT_DATA_CHARS:
        raise InitDataError("initData too long")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("initData is not a query string") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InitDataError("initData repeats a field")
    given = fields.get("hash", "")
    expected = sign_init_data(fields, bot_token)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise InitDataError("initData is not signed by Telegram for this bot")
    try:
        auth_date = int(fields["auth_date"])
    except (KeyError, ValueError):
        raise InitDataError("initData has no auth_date") from None
    current = time.time() if now is None else now
    if current - auth_date > max_age_s or auth_date - current > CLOCK_SKEW_S:
        raise InitDataError("initData is stale")
    try:
        user = json.loads(fields["user"])
        user_id = user["id"]
    except (KeyError, ValueError, TypeError):
        raise InitDataError("initData names no user") from None
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        raise InitDataError("initData names no user")
    return str(user_id)
