"""Logging for the ``redraw`` command: one line per record (text, or JSON with
``REDRAW_LOG_FORMAT=json``), each with the turn it belongs to, secrets never written.

Bot tokens travel inside URLs (Telegram's API puts the token in every path), so a
library that logs a URL or an exception message can leak one. Every formatter
replaces every configured secret in the finished line, tracebacks included: the
tokens, the API key, the webhook secret, the database password and any login or
key inside ``OPENAI_BASE_URL``; and the password of any ``scheme://user:password@``
URL, whatever its length. httpx's per-request INFO lines and Alembic's start-up
chatter are turned off altogether.

The turn id comes from a context variable the engine sets in each turn's task, so
every record made while a turn runs (the engine's, the provider client's, an
adapter's) carries it without being passed around.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from bot.app.config import Settings
from bot.telemetry.context import current_turn
from bot.telemetry.redaction import hide_url_passwords, url_secrets

REDACTED = "[secret]"
# Shorter values could appear in ordinary text by chance.
MIN_SECRET_CHARS = 8
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The fields a record may carry beyond the message; shown in text lines when set.
CONTEXT_FIELDS = ("turn_id", "request_id")


def secrets_of(settings: Settings) -> list[str]:
    values = [
        settings.telegram_bot_token,
        settings.discord_bot_token,
        settings.openai_api_key,
        settings.redraw_webhook_secret,
        settings.redraw_web_secret,
    ]
    found = [value.get_secret_value() for value in values if value is not None]
    found += url_secrets(settings.database_url)
    # A login in the provider URL without a password is usually a key: hide the user too.
    found += url_secrets(settings.openai_base_url, include_user=True)
    return found


class Redactor:
    """Replaces each secret, in any letter case: python-telegram-bot, for one, rewrites an
    error's description with ``str.capitalize()``, which lower-cases a token quoted in it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        ordered = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None

    def __call__(self, text: str) -> str:
        text = hide_url_passwords(text, REDACTED)
        return self.pattern.sub(REDACTED, text) if self.pattern is not None else text


class TurnContext(logging.Filter):
    """Puts the running turn's id on every record (None outside a turn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "turn_id", None) is None:
            record.turn_id = current_turn.get()
        return True


class RedactingFormatter(logging.Formatter):
    """``time level logger: message [turn=… request_id=…]``, secrets replaced."""

    def __init__(self, secrets: Iterable[str], fmt: str | None = TEXT_FORMAT) -> None:
        super().__init__(fmt)
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = [f"{name}={value}" for name in CONTEXT_FIELDS if (value := getattr(record, name, None))]
        if context:
            head, newline, rest = line.partition("\n")
            line = f"{head} [{' '.join(context)}]{newline}{rest}"
        return self.redact(line)


class RedactingJsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, turn_id, request_id and
    any other ``extra`` fields; the whole line is redacted after it is rendered."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.json = _context_json_formatter()
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self.json.format(record))


def _context_json_formatter() -> logging.Formatter:
    """python-json-logger's formatter, with the context fields on every line."""
    # Imported here: only REDRAW_LOG_FORMAT=json needs it (text lines are the default).
    from pythonjsonlogger.json import JsonFormatter  # noqa: PLC0415

    class ContextJsonFormatter(JsonFormatter):
        def add_fields(
            self, log_data: dict[str, Any], record: logging.LogRecord, message: dict[str, Any]
        ) -> None:
            super().add_fields(log_data, record, message)
            for name in CONTEXT_FIELDS:
                log_data.setdefault(name, getattr(record, name, None))

    return ContextJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def configure(settings: Settings | None, *, verbose: bool, quiet_default: bool) -> None:
    """Log to stderr; INFO when ``verbose`` or not ``quiet_default``, WARNING otherwise."""
    handler = logging.StreamHandler()
    secrets = secrets_of(settings) if settings is not None else []
    json_lines = settings is not None and settings.redraw_log_format == "json"
    handler.setFormatter(RedactingJsonFormatter(secrets) if json_lines else RedactingFormatter(secrets))
    handler.addFilter(TurnContext())
    root = logging.getLogger()
    # Replace our own handler from an earlier call; leave others (pytest's) alone.
    root.handlers[:] = [h for h in root.handlers if not isinstance(h.formatter, OUR_FORMATTERS)]
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose or not quiet_default else logging.WARNING)
    # One INFO line per HTTP request, with the bot token in the URL: never wanted.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Alembic announces each plugin and each migration context at INFO on every start
    # (SQLite migrates itself); `redraw db upgrade` says what it applied in its own words.
    logging.getLogger("alembic").setLevel(logging.WARNING)


OUR_FORMATTERS = (RedactingFormatter, RedactingJsonFormatter)
