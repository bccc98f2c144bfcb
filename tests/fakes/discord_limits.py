"""Discord's rate limits, as the fake Discord enforces them when switched on.

Per channel, each of these routes is a bucket of its own: new messages (``POST
/channels/{id}/messages``), edits and deletions (``PATCH``/``DELETE
/channels/{id}/messages/{id}``), 5 calls a window of 5 s, the window starting at
its first call (what Discord reports as ``X-RateLimit-Reset-After``); and 50 calls
a second for the whole bot. Every answer on a limited route carries Discord's
``X-RateLimit-*`` headers, so discord.py's own bucket handling runs as in
production; a call over a limit gets 429 with ``retry_after`` in the body, and is
not carried out.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass

from aiohttp import web

MESSAGES = re.compile(r"^/channels/(\d+)/messages$")
MESSAGE = re.compile(r"^/channels/(\d+)/messages/\d+$")


@dataclass(frozen=True)
class RateModel:
    per_channel: int = 5
    window_s: float = 5.0
    global_per_s: int = 50


@dataclass
class _Window:
    limit: int
    period: float
    count: int = 0
    reset_at: float = 0.0

    def take(self, now: float) -> bool:
        if now >= self.reset_at:
            self.count, self.reset_at = 0, now + self.period
        if self.count >= self.limit:
            return False
        self.count += 1
        return True


def bucket_of(method: str, path: str) -> tuple[str, str] | None:
    """(route, channel id) for the per-channel routes; None for the others."""
    if method == "POST" and (found := MESSAGES.match(path)):
        return "create", found.group(1)
    if method in ("PATCH", "DELETE") and (found := MESSAGE.match(path)):
        return method.lower(), found.group(1)
    return None


class RateLimits:
    def __init__(self, model: RateModel) -> None:
        self.model = model
        self._windows: dict[tuple[str, str], _Window] = {}
        self._global = _Window(model.global_per_s, 1.0)

    def check(self, method: str, path: str) -> tuple[dict[str, str], web.Response | None]:
        """The rate-limit headers for the answer, and a 429 when the call is over a limit."""
        now = time.monotonic()
        if not self._global.take(now):
            return {}, _refusal(self._global.reset_at - now, {"X-RateLimit-Global": "true"}, is_global=True)
        bucket = bucket_of(method, path)
        if bucket is None:
            return {}, None
        window = self._windows.setdefault(bucket, _Window(self.model.per_channel, self.model.window_s))
        allowed = window.take(now)
        reset_after = max(0.0, window.reset_at - now)
        headers = {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(window.limit - window.count),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"fake-{bucket[0]}",
        }
        if allowed:
            return headers, None
        return headers, _refusal(reset_after, headers)


def _refusal(retry_after: float, headers: dict[str, str], *, is_global: bool = False) -> web.Response:
    body = {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": is_global,
    }
    # "Via" marks it as Discord's own limit, not a Cloudflare ban (discord.py checks).
    extra = {
        "Content-Type": "application/json",
        "Via": "1.1 google",
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Scope": "global" if is_global else "user",
    }
    return web.Response(body=json.dumps(body).encode(), status=429, headers={**headers, **extra})
