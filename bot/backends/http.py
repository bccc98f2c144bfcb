"""The HTTP client for the image provider: transport, timeouts and retries.

429 and 5xx are retried with exponential backoff and jitter (tenacity), honouring
``Retry-After`` (on a 503 as on a 429), bounded in attempts and in total time.
400/401/403 and read timeouts are never retried: the first attempt may still be
drawing and billing. Which typed error a failure is, is decided by
:mod:`bot.backends.provider_errors`; image links are fetched by :mod:`bot.backends.links`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from bot.backends.links import GRACE_S, MIN_RATE, LinkFetcher, Resolve, system_resolve
from bot.backends.payloads import loads
from bot.backends.provider_errors import ProviderErrors, request_id_of
from bot.backends.sse import ServerSentEvent, iter_events
from bot.errors import (
    LinkTooSlow,
    MalformedResponse,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bot.images.offload import cooperative, gated, run_cpu
from bot.telemetry.metrics import UPSTREAM_ERRORS, UPSTREAM_SECONDS
from bot.tls import client_context

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
# Parse small bodies on the loop; hand big ones (base64 images) to a thread.
_INLINE_PARSE_LIMIT = 32 * 1024


Files = list[tuple[str, tuple[str, bytes, str]]]


def _json_request(body: bytes) -> dict[str, Any]:
    return {"content": body, "headers": {"Content-Type": "application/json"}}


@dataclass(frozen=True, repr=False)
class UpstreamResponse:
    status: int
    headers: httpx.Headers
    # The body as received: joining 16 MB is left to the image pool.
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
    return loads(chunks if isinstance(chunks, bytes) else b"".join(chunks))


async def parse_json(raw: list[bytes] | bytes) -> Any:
    """Parse a body; big ones (base64 images) on the image pool."""
    size = len(raw) if isinstance(raw, bytes) else sum(map(len, raw))
    if size <= _INLINE_PARSE_LIMIT:
        return _loads_chunks(raw)
    return await run_cpu(_loads_chunks, raw)


async def read_body(response: httpx.Response, gate: asyncio.Semaphore | None = None) -> list[bytes]:
    """The whole body; with ``gate``, holding one of its slots only while bytes flow."""
    if gate is None:
        return [chunk async for chunk in cooperative(response.aiter_bytes())]
    async with aclosing(gated(response.aiter_bytes(), gate)) as chunks:
        return [chunk async for chunk in cooperative(chunks)]


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
        link_timeout: float = 120.0,
        link_min_rate: float = MIN_RATE,
        link_grace_s: float = GRACE_S,
        fetch_private_links: bool = False,
        resolve: Resolve = system_resolve,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # A query in the base URL (a gateway's ``?api-version=…``) goes with every request,
        # not into the middle of its path.
        parts = urlsplit(base_url)
        self.base_url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        query = httpx.QueryParams(parts.query)
        self._api_key = api_key or ""
        self.errors = ProviderErrors(self._api_key)
        self.retry_attempts = retry_attempts
        self.retry_max_seconds = retry_max_seconds
        self.max_download_bytes = max_download_bytes
        self.link_timeout = link_timeout
        self._sleep = sleep
        # Reading a body costs ~2.5 ms of loop time per MB, paid by every socket that
        # is ready in the same loop turn. Capping concurrent readers bounds a turn when
        # many multi-MB results land at once; the rest wait in the kernel's buffers.
        # A reader holds its slot only while bytes flow (offload.gated), never while
        # the network keeps it waiting.
        self._body_readers = asyncio.Semaphore(max_body_readers)
        timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        )
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers=headers,
            params=query,
            timeout=timeout,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            transport=transport,
            verify=client_context(),
        )
        self._links = LinkFetcher(
            provider_url=self.base_url,
            max_bytes=max_download_bytes,
            gate=self._body_readers,
            error_from=lambda status, headers: self.error_from(status, headers, b""),
            connect_timeout=connect_timeout,
            private_ok=fetch_private_links,
            min_rate=link_min_rate,
            grace_s=link_grace_s,
            resolve=resolve,
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._links.aclose()

    async def __aenter__(self) -> UpstreamClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- calls ---------------------------------------------------------------

    async def post_json(self, path: str, body: bytes) -> UpstreamResponse:
        """POST a JSON body already serialized (see :func:`bot.backends.payloads.dumps`)."""
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

    async def download(self, url: str) -> tuple[bytes, str]:
        """Fetch an image link by the rules of :mod:`bot.backends.links`, within
        ``link_timeout`` in all (retries included). Returns the bytes and their image type."""
        try:
            async with asyncio.timeout(self.link_timeout):
                return await self._with_retries(lambda: self._links.fetch(url))
        except TimeoutError:
            raise LinkTooSlow(f"the image link took longer than {self.link_timeout:.0f} s") from None
        except UpstreamUnavailable as error:
            # The picture was drawn (and billed): another model must not draw it again.
            raise MalformedResponse(f"the image link could not be fetched: {error.detail}") from None

    # --- internals -----------------------------------------------------------

    async def _send(self, path: str, **kwargs: Any) -> UpstreamResponse:
        started = time.perf_counter()
        response = await self._open_stream(path, kwargs)
        try:
            chunks = await read_body(response, self._body_readers)
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
        if isinstance(error, RateLimited | UpstreamUnavailable) and error.retry_after is not None:
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

    def error_from(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        """Map a failed response to the typed error the engine explains."""
        return self.errors.from_response(status, headers, body)

    def error_from_event(self, document: Mapping[str, Any], request_id: str | None) -> UpstreamError:
        """Map an ``error`` event of a stream (``{"type": "error", "error": {...}}``)."""
        failure = self.errors.from_event(document, request_id)
        UPSTREAM_ERRORS.labels(failure.kind).inc()
        return failure
