"""The HTTP client for the image provider: timeouts, retries, typed errors, request ids.

429 and 5xx are retried with exponential backoff and jitter (tenacity), honouring
``Retry-After``, bounded in attempts and in total time. 400/401/403 and read
timeouts are never retried: the first attempt may still be drawing and billing.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from bot import payloads
from bot.backends.sse import ServerSentEvent, iter_events
from bot.config import Settings
from bot.errors import (
    AuthFailed,
    BadRequest,
    ContentBlocked,
    InsufficientBalance,
    MalformedResponse,
    ModelUnavailable,
    RateLimited,
    StateExpired,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bot.metrics import UPSTREAM_ERRORS, UPSTREAM_SECONDS
from bot.offload import cooperative, run_cpu
from bot.tls import client_context

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-oneapi-request-id", "openai-request-id")
_MODERATION_CODES = {"moderation_blocked", "content_policy_violation", "content_filter", "safety_violation"}
_BALANCE_CODES = {
    "insufficient_quota",
    "insufficient_balance",
    "billing_hard_limit_reached",
    "insufficient_user_quota",
}
# Parse small bodies on the loop; hand big ones (base64 images) to a thread.
_INLINE_PARSE_LIMIT = 32 * 1024


Files = list[tuple[str, tuple[str, bytes, str]]]


def _json_request(body: bytes) -> dict[str, Any]:
    return {"content": body, "headers": {"Content-Type": "application/json"}}


@dataclass(frozen=True, repr=False)
class UpstreamResponse:
    status: int
    headers: httpx.Headers
    # The body as received: joining 16 MB is left to the image thread.
    chunks: list[bytes]
    request_id: str | None
    elapsed_s: float

    @property
    def size(self) -> int:
        return sum(map(len, self.chunks))

    async def json(self) -> Any:
        return await parse_json(self.chunks)

    def __repr__(self) -> str:
        return f"UpstreamResponse({self.status}, {self.size} bytes, request_id={self.request_id})"


def _loads_chunks(chunks: list[bytes] | bytes) -> Any:
    return payloads.loads(chunks if isinstance(chunks, bytes) else b"".join(chunks))


async def parse_json(raw: list[bytes] | bytes) -> Any:
    """Parse a body; big ones (base64 images) on the image thread."""
    size = len(raw) if isinstance(raw, bytes) else sum(map(len, raw))
    if size <= _INLINE_PARSE_LIMIT:
        return _loads_chunks(raw)
    return await run_cpu(_loads_chunks, raw)


async def read_body(response: httpx.Response) -> list[bytes]:
    return [chunk async for chunk in cooperative(response.aiter_bytes())]


@dataclass
class EventStream:
    """An open response. ``events`` yields SSE events; a proxy that ignored ``stream``
    answers plain JSON instead, readable with ``read_json``."""

    response: httpx.Response
    request_id: str | None

    @property
    def is_event_stream(self) -> bool:
        content_type: str = self.response.headers.get("content-type", "")
        return content_type.startswith("text/event-stream")

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        async for event in iter_events(cooperative(self.response.aiter_bytes())):
            yield event

    async def read_json(self) -> Any:
        return await parse_json(await read_body(self.response))


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


class UpstreamClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        connect_timeout: float = 10.0,
        read_timeout: float = 600.0,
        retry_attempts: int = 3,
        retry_max_seconds: float = 120.0,
        max_download_bytes: int = 50 * 1024 * 1024,
        max_body_readers: int = 4,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or ""
        self.retry_attempts = retry_attempts
        self.retry_max_seconds = retry_max_seconds
        self.max_download_bytes = max_download_bytes
        self._sleep = sleep
        # Reading a body costs ~2.5 ms of loop time per MB, paid by every socket that
        # is ready in the same loop turn. Capping concurrent readers bounds a turn when
        # many multi-MB results land at once; the rest wait in the kernel's buffers.
        self._body_readers = asyncio.Semaphore(max_body_readers)
        timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        )
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            transport=transport,
            verify=client_context(),
        )
        # Image links live on other hosts: never send them our key.
        self._downloads = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=connect_timeout, read=120.0, write=30.0, pool=connect_timeout),
            follow_redirects=True,
            transport=transport,
            verify=client_context(),
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> UpstreamClient:
        options: dict[str, Any] = {
            "base_url": settings.openai_base_url,
            "api_key": settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            "connect_timeout": settings.redraw_connect_timeout,
            "read_timeout": settings.redraw_read_timeout,
            "retry_attempts": settings.redraw_retry_attempts,
            "retry_max_seconds": settings.redraw_retry_max_seconds,
            "max_download_bytes": settings.redraw_max_download_mb * 1024 * 1024,
        }
        options.update(overrides)
        return cls(**options)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._downloads.aclose()

    async def __aenter__(self) -> UpstreamClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- calls ---------------------------------------------------------------

    async def post_json(self, path: str, body: bytes) -> UpstreamResponse:
        """POST a JSON body already serialized (see :func:`bot.payloads.dumps`)."""
        return await self._with_retries(lambda: self._send(path, **_json_request(body)))

    async def post_multipart(self, path: str, fields: Mapping[str, str], files: Files) -> UpstreamResponse:
        return await self._with_retries(lambda: self._send(path, data=dict(fields), files=files))

    def stream_json(self, path: str, body: bytes) -> AbstractAsyncContextManager[EventStream]:
        return self._stream(path, _json_request(body))

    def stream_multipart(
        self, path: str, fields: Mapping[str, str], files: Files
    ) -> AbstractAsyncContextManager[EventStream]:
        return self._stream(path, {"data": dict(fields), "files": files})

    @asynccontextmanager
    async def _stream(self, path: str, request: dict[str, Any]) -> AsyncIterator[EventStream]:
        """POST and keep the response open for server-sent events. Retries cover only
        getting a successful status; once events flow, a failure is final."""
        response = await self._with_retries(lambda: self._open_stream(path, request))
        try:
            yield EventStream(response, request_id_of(response.headers))
        except httpx.TimeoutException:
            raise UpstreamTimeout("the stream stalled past the read timeout") from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"the stream broke: {type(exc).__name__}") from None
        finally:
            await response.aclose()

    async def models(self) -> list[str]:
        """The provider's model list (``GET /models``): a call that costs nothing, for
        ``redraw check``. One attempt: a check reports, it does not insist."""
        try:
            response = await self._http.get("models")
        except httpx.TimeoutException as exc:
            raise self._timeout(exc) from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"cannot reach the provider: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise self.error_from(response.status_code, response.headers, response.content)
        try:
            listed = response.json().get("data", [])
            return [str(model["id"]) for model in listed if isinstance(model, dict) and "id" in model]
        except (ValueError, AttributeError):
            raise MalformedResponse("GET /models did not answer a model list") from None

    async def download(self, url: str) -> tuple[bytes, str | None]:
        """Fetch an image link (size-capped). Returns the bytes and the content type."""
        if not url.startswith(("http://", "https://")):
            raise MalformedResponse(f"unsupported image link scheme: {url[:40]}")
        return await self._with_retries(lambda: self._download_once(url))

    # --- internals -----------------------------------------------------------

    async def _send(self, path: str, **kwargs: Any) -> UpstreamResponse:
        started = time.perf_counter()
        response = await self._open_stream(path, kwargs)
        try:
            async with self._body_readers:
                chunks = await read_body(response)
        except httpx.TimeoutException as exc:
            raise self._timeout(exc) from None
        except httpx.TransportError as exc:
            # Not retried: the provider already drew (and billed) this answer.
            raise MalformedResponse(f"the provider's answer broke off: {type(exc).__name__}") from None
        finally:
            await response.aclose()
        return UpstreamResponse(
            response.status_code,
            response.headers,
            chunks,
            request_id_of(response.headers),
            time.perf_counter() - started,
        )

    async def _open_stream(self, path: str, options: dict[str, Any]) -> httpx.Response:
        """Send the request; return the open response once its status says success."""
        endpoint = path.lstrip("/")
        request = self._http.build_request("POST", endpoint, **options)
        started = time.perf_counter()
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise self._timeout(exc) from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"cannot reach the provider: {type(exc).__name__}") from None
        elapsed = time.perf_counter() - started
        UPSTREAM_SECONDS.labels(endpoint, str(response.status_code)).observe(elapsed)
        request_id = request_id_of(response.headers)
        log.info(
            "provider %s: HTTP %d in %.1f s (request id %s)",
            endpoint,
            response.status_code,
            elapsed,
            request_id,
            extra={"request_id": request_id, "upstream_status": response.status_code},
        )
        if response.status_code >= 400:
            content = await response.aread()
            await response.aclose()
            raise self.error_from(response.status_code, response.headers, content)
        return response

    async def _download_once(self, url: str) -> tuple[bytes, str | None]:
        try:
            async with self._downloads.stream("GET", url) as response, self._body_readers:
                if response.status_code >= 400:
                    error = self.error_from(response.status_code, response.headers, b"")
                    if not error.retryable:
                        raise MalformedResponse(
                            f"the image link answered HTTP {response.status_code}",
                            status=response.status_code,
                        )
                    raise error
                declared = int(response.headers.get("content-length") or 0)
                if declared > self.max_download_bytes:
                    raise MalformedResponse(f"the image link is too large ({declared} bytes)")
                body = bytearray()
                async for chunk in cooperative(response.aiter_bytes()):
                    body += chunk
                    if len(body) > self.max_download_bytes:
                        raise MalformedResponse("the image link is larger than the download limit")
                return bytes(body), response.headers.get("content-type")
        except httpx.TimeoutException:
            raise UpstreamUnavailable("downloading the image link timed out") from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"cannot download the image link: {type(exc).__name__}") from None

    def _timeout(self, exc: httpx.TimeoutException) -> UpstreamError:
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            # Nothing reached the provider yet: safe to retry.
            return UpstreamUnavailable(f"connecting to the provider timed out ({type(exc).__name__})")
        return UpstreamTimeout(f"no answer within the read timeout ({type(exc).__name__})")

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry_attempts) | stop_before_delay(self.retry_max_seconds),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, UpstreamError) and exc.retryable),
            sleep=self._sleep,
            reraise=True,
            before_sleep=self._log_retry,
        )
        async for attempt in retrying:
            with attempt:
                try:
                    return await call()
                except UpstreamError as error:
                    UPSTREAM_ERRORS.labels(error.kind).inc()
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")

    _backoff = wait_exponential_jitter(initial=1.0, max=30.0, jitter=1.0)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return error.retry_after
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        request_id = getattr(error, "request_id", None)
        log.warning(
            "provider call failed (%s, request id %s); retry %d in %.1f s",
            getattr(error, "kind", type(error).__name__),
            request_id,
            state.attempt_number,
            wait,
            extra={"request_id": request_id},
        )

    # --- errors --------------------------------------------------------------

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def error_from(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        """Map a failed response to the typed error the engine explains."""
        message, code, kind = _error_fields(body)
        return self.classify(
            status,
            message=message,
            code=code,
            kind=kind,
            request_id=request_id_of(headers),
            retry_after=retry_after_of(headers),
        )

    def error_from_event(self, document: Mapping[str, Any], request_id: str | None) -> UpstreamError:
        """Map an ``error`` event of a stream (``{"type": "error", "error": {...}}``)."""
        error = document.get("error") if isinstance(document.get("error"), Mapping) else document
        assert isinstance(error, Mapping)
        code, kind = str(error.get("code") or ""), str(error.get("type") or "")
        status = 500 if kind == "server_error" or code == "server_error" else 400
        message = str(error.get("message") or "")
        failure = self.classify(
            status, message=message, code=code, kind=kind, request_id=request_id, retry_after=None
        )
        UPSTREAM_ERRORS.labels(failure.kind).inc()
        return failure

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
        if (
            code == "model_not_found"
            or status == 404
            or (
                "model" in words
                and any(w in words for w in ("does not exist", "not found", "no available channel"))
            )
        ):
            return ModelUnavailable(summary, **context)
        if status == 403:
            return AuthFailed(summary, **context)
        if status >= 500 or status in (408, 409):
            return UpstreamUnavailable(summary, **context)
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
