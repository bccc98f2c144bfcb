"""Errors the engine can explain to a user, and the two an operator reads in one line.

Every ``RedrawError`` carries a message ``key`` (see :mod:`bot.messages`) and the parameters
that text needs, so adapters can show it in the user's language. ``detail`` is for
logs only and never holds secrets.

``StartupError`` (a platform plugin) and ``DatabaseUnusable`` (the storage plugin) live
here, below both the plugins and the composition root that prints them, so no import
runs back up.
"""

from __future__ import annotations

from typing import Any, ClassVar


class StartupError(Exception):
    """A platform could not be reached or refused the credentials: said in one line."""


class DatabaseUnusable(Exception):
    """The database can't be used as it is; the message says, in one line, what to run or fix."""


class RedrawError(Exception):
    key: ClassVar[str] = "internal_error"

    def __init__(self, detail: str = "", *, key: str | None = None, **params: Any) -> None:
        self.message_key = key or type(self).key
        self.params: dict[str, Any] = params
        self.detail = detail or self.message_key
        super().__init__(self.detail)


class InputError(RedrawError):
    """A request refused before any upstream call: nothing was spent."""

    key = "invalid_input"


def download_too_large(size: int | None, limit: int) -> InputError:
    """A user's file over what the bot may fetch (a platform's limit, or the image API's)."""
    return InputError(
        f"file of {size} bytes over the {limit}-byte download limit",
        key="download_too_large",
        size_mb=f"{size / 2**20:.1f}" if size else "?",
        limit_mb=limit // 2**20,
    )


class UpstreamError(RedrawError):
    """The image provider failed or refused. ``retryable`` drives the retry policy."""

    key = "upstream_error"
    retryable: ClassVar[bool] = False
    # Whether trying the next model of the fallback chain can help.
    model_fallback: ClassVar[bool] = False

    def __init__(
        self,
        detail: str = "",
        *,
        status: int | None = None,
        request_id: str | None = None,
        code: str | None = None,
        provider_message: str | None = None,
        **params: Any,
    ) -> None:
        self.status = status
        self.request_id = request_id
        self.code = code
        self.provider_message = provider_message
        params.setdefault("message", provider_message or "")
        super().__init__(detail or provider_message or type(self).key, **params)

    @property
    def kind(self) -> str:
        return self.message_key


class BadRequest(UpstreamError):
    key = "upstream_bad_request"


class AuthFailed(UpstreamError):
    key = "upstream_auth"


class ContentBlocked(UpstreamError):
    key = "content_blocked"


class RateLimited(UpstreamError):
    key = "rate_limited"
    retryable = True

    def __init__(self, detail: str = "", *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        kwargs.setdefault("seconds", round(retry_after) if retry_after else 60)
        super().__init__(detail, **kwargs)


class InsufficientBalance(UpstreamError):
    key = "insufficient_balance"


class ModelUnavailable(UpstreamError):
    key = "model_unavailable"
    model_fallback = True


class EndpointNotFound(UpstreamError):
    """A bare 404: the provider URL has no such path (a wrong ``OPENAI_BASE_URL``), not a
    missing model. Another model would meet the same 404, so there is no fallback."""

    key = "upstream_not_found"


class UpstreamUnavailable(UpstreamError):
    key = "upstream_unavailable"
    retryable = True
    model_fallback = True

    def __init__(self, detail: str = "", *, retry_after: float | None = None, **kwargs: Any) -> None:
        # A 503 may say when to come back, as a 429 does.
        self.retry_after = retry_after
        super().__init__(detail, **kwargs)


class UpstreamTimeout(UpstreamError):
    # Not retried: the provider may still be drawing (and billing) the first attempt.
    key = "upstream_timeout"


class MalformedResponse(UpstreamError):
    key = "malformed_response"


class OutputTooLarge(MalformedResponse):
    """The provider's picture has more pixels than the bot decodes (a decompression bomb)."""

    key = "output_too_large"


class LinkRefused(MalformedResponse):
    """An image link the bot will not fetch: its scheme, address, redirects or content type."""

    key = "link_refused"


class LinkTooSlow(UpstreamError):
    """An image link that missed the download deadline or the minimum rate. Not retried:
    a link that drips will drip again."""

    key = "link_too_slow"


class NoImageReturned(UpstreamError):
    """The model answered with text only (a question, a refusal)."""

    key = "no_image"


class StateExpired(UpstreamError):
    """The provider no longer knows the parent (``previous_response_not_found``).

    Backends recover from it by resending the parent's stored image; it should
    never reach a user.
    """

    key = "state_expired"
