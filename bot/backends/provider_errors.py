"""The provider's failures as typed errors: a status and body (or a stream's error
event) become the :mod:`bot.errors` type the engine explains and the retry policy
reads; also the upstream request id and ``Retry-After`` from the headers.

Kept apart from the transport (:mod:`bot.backends.http`): proxies word the same
failure many ways, and this is where those wordings are learned.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.errors import (
    AuthFailed,
    BadRequest,
    ContentBlocked,
    EndpointNotFound,
    InsufficientBalance,
    ModelUnavailable,
    RateLimited,
    StateExpired,
    UpstreamError,
    UpstreamUnavailable,
)

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-oneapi-request-id", "openai-request-id")
_MODERATION_CODES = {"moderation_blocked", "content_policy_violation", "content_filter", "safety_violation"}
_BALANCE_CODES = {
    "insufficient_quota",
    "insufficient_balance",
    "billing_hard_limit_reached",
    "insufficient_user_quota",
}


def request_id_of(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if value := headers.get(name):
            return value
    return None


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class ProviderErrors:
    """Maps failures to typed errors, blanking the API key out of any message that
    echoes it back (some proxies quote the whole request)."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def from_response(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        """A failed response."""
        message, code, kind = _error_fields(body)
        return self.classify(
            status,
            message=message,
            code=code,
            kind=kind,
            request_id=request_id_of(headers),
            retry_after=retry_after_of(headers),
        )

    def from_event(self, document: Mapping[str, Any], request_id: str | None) -> UpstreamError:
        """An ``error`` event of a stream (``{"type": "error", "error": {...}}``)."""
        error = document.get("error") if isinstance(document.get("error"), Mapping) else document
        assert isinstance(error, Mapping)
        code, kind = str(error.get("code") or ""), str(error.get("type") or "")
        status = 500 if kind == "server_error" or code == "server_error" else 400
        message = str(error.get("message") or "")
        return self.classify(
            status, message=message, code=code, kind=kind, request_id=request_id, retry_after=None
        )

    def classify(
        self,
        status: int,
        *,
        message: str,
        code: str,
        kind: str,
        request_id: str | None,
        retry_after: float | None,
    ) -> UpstreamError:
        message = self.redact(message)
        summary = f"HTTP {status}: {message}" if message else f"HTTP {status}"
        context: dict[str, Any] = {
            "status": status,
            "request_id": request_id,
            "code": code,
            "provider_message": message or None,
        }
        words = f"{message} {code} {kind}".lower()
        if status == 401:
            return AuthFailed(summary, **context)
        if code in _MODERATION_CODES or (
            status in (400, 403)
            and any(w in words for w in ("moderation", "safety system", "content policy"))
        ):
            return ContentBlocked(summary, **context)
        if code == "previous_response_not_found" or ("previous response" in words and "not found" in words):
            return StateExpired(summary, **context)
        if (
            status == 402
            or code in _BALANCE_CODES
            or (status == 429 and any(w in words for w in ("quota", "balance", "credit", "余额")))
        ):
            return InsufficientBalance(summary, **context)
        if status == 429:
            return RateLimited(summary, retry_after=retry_after, **context)
        if code == "model_not_found" or (
            "model" in words
            and any(w in words for w in ("does not exist", "not found", "no available channel"))
        ):
            return ModelUnavailable(summary, **context)
        if status == 404:
            # No model named: the path itself is not there (a wrong OPENAI_BASE_URL).
            return EndpointNotFound(summary, **context)
        if status == 403:
            return AuthFailed(summary, **context)
        if status >= 500 or status in (408, 409):
            return UpstreamUnavailable(summary, retry_after=retry_after, **context)
        if 400 <= status < 500:
            return BadRequest(summary, **context)
        return UpstreamError(summary, **context)


def _error_fields(body: bytes) -> tuple[str, str, str]:
    """(message, code, type) from an OpenAI-style error body, or a text snippet."""
    text = body[:4096].decode("utf-8", "replace").strip()
    try:
        document = json.loads(body) if body and len(body) < 1_000_000 else None
    except ValueError:
        document = None
    if isinstance(document, dict):
        error = document.get("error", document)
        if isinstance(error, dict):
            return (
                str(error.get("message") or error.get("detail") or "")[:500],
                str(error.get("code") or ""),
                str(error.get("type") or ""),
            )
        if isinstance(error, str):
            return error[:500], "", ""
    return text[:300], "", ""
