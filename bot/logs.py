"""Logging for the ``redraw`` command: one line per record, secrets never written.

Bot tokens travel inside URLs (Telegram's API puts the token in every path), so a
library that logs a URL or an exception message can leak one. The formatter
replaces every configured secret in the finished line, tracebacks included, and
httpx's per-request INFO lines are turned off altogether.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.config import Settings

REDACTED = "[secret]"
# Shorter values could appear in ordinary text by chance.
MIN_SECRET_CHARS = 8


def secrets_of(settings: Settings) -> list[str]:
    values = [
        settings.telegram_bot_token,
        settings.discord_bot_token,
        settings.openai_api_key,
        settings.redraw_webhook_secret,
    ]
    return [value.get_secret_value() for value in values if value is not None]


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure(settings: Settings | None, *, verbose: bool, quiet_default: bool) -> None:
    """Log to stderr; INFO when ``verbose`` or not ``quiet_default``, WARNING otherwise."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            secrets_of(settings) if settings is not None else [],
            "%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    )
    root = logging.getLogger()
    # Replace our own handler from an earlier call; leave others (pytest's) alone.
    root.handlers[:] = [h for h in root.handlers if not isinstance(h.formatter, RedactingFormatter)]
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose or not quiet_default else logging.WARNING)
    # One INFO line per HTTP request, with the bot token in the URL: never wanted.
    logging.getLogger("httpx").setLevel(logging.WARNING)
