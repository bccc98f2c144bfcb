"""Typed errors, the retry policy and the model fallback chain, over real HTTP."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from bot.backends.http import UpstreamClient
from bot.backends.images import ImagesBackend
from bot.backends.provider_errors import retry_after_of
from bot.backends.responses import ResponsesBackend
from bot.blobs import MemoryBlobStore
from bot.errors import (
    AuthFailed,
    ContentBlocked,
    EndpointNotFound,
    InsufficientBalance,
    MalformedResponse,
    ModelUnavailable,
    RateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bot.messages import render_error
from tests.conftest import TEST_API_KEY, RecordingSleep
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, make_request


@pytest.fixture
def backend(client: UpstreamClient, blobs: MemoryBlobStore) -> ImagesBackend:
    return ImagesBackend(client, blobs, ["gpt-image-2"])


def calls(fake: FakeOpenAI) -> int:
    return len(fake.requests)


async def test_429_honours_retry_after_then_succeeds(
    backend: ImagesBackend, fake: FakeOpenAI, sleeps: RecordingSleep
) -> None:
    fake.fail("rate_limit", retry_after=7)
    result = await backend.run(await make_request("a red kite"))

    assert colour_name(result.images[0].data) == "red"
    assert calls(fake) == 2
    assert sleeps.waits == [7.0]


async def test_429_that_outlasts_the_retries(
    backend: ImagesBackend, fake: FakeOpenAI, sleeps: RecordingSleep
) -> None:
    fake.fail("rate_limit", retry_after=2, times=5)
    with pytest.raises(RateLimited) as caught:
        await backend.run(await make_request("a red kite"))

    assert calls(fake) == 3  # REDRAW_RETRY_ATTEMPTS
    assert sleeps.waits == [2.0, 2.0]
    assert caught.value.retry_after == 2.0
    assert caught.value.request_id is not None
    assert "2 seconds" in render_error(caught.value, "en")


async def test_retry_after_beyond_the_time_budget_is_not_waited(
    fake: FakeOpenAI, blobs: MemoryBlobStore, sleeps: RecordingSleep
) -> None:
    fake.fail("rate_limit", retry_after=600)
    async with UpstreamClient(
        base_url=fake.base_url, api_key=TEST_API_KEY, sleep=sleeps, retry_max_seconds=30
    ) as client:
        with pytest.raises(RateLimited) as caught:
            await ImagesBackend(client, blobs, ["gpt-image-2"]).run(await make_request("x"))

    assert calls(fake) == 1 and sleeps.waits == []
    assert "600 seconds" in render_error(caught.value, "en")


async def test_5xx_is_retried_with_backoff(
    backend: ImagesBackend, fake: FakeOpenAI, sleeps: RecordingSleep
) -> None:
    fake.fail("server_error", times=2)
    result = await backend.run(await make_request("a green frog"))

    assert result.images and calls(fake) == 3
    assert len(sleeps.waits) == 2
    assert 1.0 <= sleeps.waits[0] <= 2.0 and 2.0 <= sleeps.waits[1] <= 3.0  # exponential, with jitter


async def test_503_honours_retry_after(
    backend: ImagesBackend, fake: FakeOpenAI, sleeps: RecordingSleep
) -> None:
    fake.fail("unavailable", retry_after=7)
    result = await backend.run(await make_request("a red kite"))

    assert colour_name(result.images[0].data) == "red"
    assert calls(fake) == 2
    assert sleeps.waits == [7.0]


async def test_a_provider_that_dribbles_does_not_hold_the_body_slots(
    backend: ImagesBackend, fake: FakeOpenAI
) -> None:
    """Four answers that keep their connection alive with a space while they draw hold
    no body-read slot: another chat's picture still arrives first."""
    fake.fail("dribble", times=4)
    slow = [
        asyncio.create_task(backend.run(await make_request(f"{colour} kites")))
        for colour in ("blue", "green", "yellow", "purple")
    ]
    await asyncio.wait_for(fake.until_dripping(4), 30)
    other = asyncio.create_task(backend.run(await make_request("a red kite")))
    done, _ = await asyncio.wait([other, *slow], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    fake.release_drips()
    answers = await asyncio.gather(*slow, other, return_exceptions=True)
    assert done == {other}
    colours = [colour_name(a.images[0].data) if not isinstance(a, BaseException) else a for a in answers]
    assert colours == ["blue", "green", "yellow", "purple", "red"]


async def test_5xx_exhausted(backend: ImagesBackend, fake: FakeOpenAI) -> None:
    fake.fail("server_error", times=3)
    with pytest.raises(UpstreamUnavailable):
        await backend.run(await make_request("a green frog"))
    assert calls(fake) == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("moderation", ContentBlocked),
        ("auth", AuthFailed),
        ("insufficient_quota", InsufficientBalance),
        ("malformed_json", MalformedResponse),
        ("truncated_b64", MalformedResponse),
        ("url_404", MalformedResponse),
        ("broken_body", MalformedResponse),
    ],
)
async def test_failures_that_are_not_retried(
    backend: ImagesBackend, fake: FakeOpenAI, fault: str, error: type[Exception], sleeps: RecordingSleep
) -> None:
    fake.fail(fault)
    with pytest.raises(error):
        await backend.run(await make_request("a cat"))
    assert sleeps.waits == []
    assert len([r for r in fake.requests if r.path.startswith("/v1")]) == 1


async def test_moderation_message_is_clear_in_both_languages(
    backend: ImagesBackend, fake: FakeOpenAI
) -> None:
    fake.fail("moderation")
    with pytest.raises(ContentBlocked) as caught:
        await backend.run(await make_request("something bad"))
    assert caught.value.request_id is not None and caught.value.status == 400
    assert "Rephrase" in render_error(caught.value, "en")
    assert "安全" in render_error(caught.value, "zh-CN")


async def test_a_slow_provider_times_out_without_retry(
    fake: FakeOpenAI, blobs: MemoryBlobStore, sleeps: RecordingSleep
) -> None:
    fake.fail("slow", delay=1.0)
    async with UpstreamClient(
        base_url=fake.base_url, api_key=TEST_API_KEY, sleep=sleeps, read_timeout=0.3
    ) as client:
        with pytest.raises(UpstreamTimeout):
            await ImagesBackend(client, blobs, ["gpt-image-2"]).run(await make_request("x"))
    assert calls(fake) == 1 and sleeps.waits == []


async def test_an_unreachable_provider(blobs: MemoryBlobStore, sleeps: RecordingSleep) -> None:
    async with UpstreamClient(base_url="http://127.0.0.1:9/v1", api_key=TEST_API_KEY, sleep=sleeps) as client:
        with pytest.raises(UpstreamUnavailable):
            await ImagesBackend(client, blobs, ["gpt-image-2"]).run(await make_request("x"))
    assert len(sleeps.waits) == 2  # connection failures are safe to retry


async def test_the_api_key_never_leaks(
    backend: ImagesBackend, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail("auth")
    with pytest.raises(AuthFailed) as caught:
        await backend.run(await make_request("x"))
    fake.fail("server_error", times=3)
    with pytest.raises(UpstreamUnavailable):
        await backend.run(await make_request("x"))
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TEST_API_KEY}"
    for text in (
        str(caught.value),
        caught.value.detail,
        render_error(caught.value),
        caplog.text,
        repr(caught.value),
    ):
        assert TEST_API_KEY not in text


async def test_provider_message_echoing_the_key_is_redacted(client: UpstreamClient) -> None:
    error = client.error_from(
        401, httpx.Headers(), b'{"error": {"message": "bad key ' + TEST_API_KEY.encode() + b'"}}'
    )
    assert TEST_API_KEY not in str(error) and "***" in str(error)


async def test_fallback_to_the_next_model_when_missing(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    fake.unavailable_models = {"gpt-image-2"}
    backend = ImagesBackend(client, blobs, ["gpt-image-2", "gpt-image-1.5"])
    result = await backend.run(await make_request("a yellow car", size="2048x1152"))

    models = [r.json["model"] for r in fake.requests]
    assert models == ["gpt-image-2", "gpt-image-1.5"]
    assert fake.requests[1].json["size"] == "1536x1024"  # the nearest size the older model draws
    assert result.model == "gpt-image-1.5" and result.skipped_models == ("gpt-image-2",)
    assert colour_name(result.images[0].data) == "yellow"


async def test_no_fallback_on_moderation(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    fake.fail("moderation")
    with pytest.raises(ContentBlocked):
        await ImagesBackend(client, blobs, ["gpt-image-2", "gpt-image-1.5"]).run(await make_request("x"))
    assert calls(fake) == 1


async def test_last_model_missing_is_explained(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    fake.unavailable_models = {"gpt-image-2", "gpt-image-1.5"}
    with pytest.raises(ModelUnavailable) as caught:
        await ResponsesBackend(client, blobs, ["gpt-image-2", "gpt-image-1.5"]).run(
            await make_request("x", backend="responses")
        )
    assert "/settings" in render_error(caught.value)


class CountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await super().handle_async_request(request)


async def test_a_wrong_base_url_path_is_not_a_missing_model(blobs: MemoryBlobStore, fake: FakeOpenAI) -> None:
    transport = CountingTransport()
    # The host is right, the path is not: the fake answers its bare 404 there.
    wrong = fake.base_url.removesuffix("/v1") + "/openai/v1"
    async with UpstreamClient(base_url=wrong, api_key=TEST_API_KEY, transport=transport) as client:
        backend = ImagesBackend(client, blobs, ["gpt-image-2", "gpt-image-1.5"])
        with pytest.raises(EndpointNotFound) as caught:
            await backend.run(await make_request("x"))
    assert transport.paths == ["/openai/v1/images/generations"]  # no other model tried, no retry
    told = render_error(caught.value, "en")
    assert "404" in told and "OPENAI_BASE_URL" in told and "/settings" not in told
    assert "OPENAI_BASE_URL" in render_error(caught.value, "zh")


async def test_stream_error_events_are_typed(client: UpstreamClient) -> None:
    moderation = client.error_from_event(
        {"type": "error", "error": {"code": "moderation_blocked", "message": "no"}}, "req_1"
    )
    assert isinstance(moderation, ContentBlocked) and moderation.request_id == "req_1"
    server = client.error_from_event({"type": "error", "code": "server_error", "message": "boom"}, None)
    assert isinstance(server, UpstreamUnavailable)


def test_retry_after_forms() -> None:
    assert retry_after_of(httpx.Headers({"retry-after": "12"})) == 12.0
    assert retry_after_of(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert retry_after_of(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after_of(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after_of(httpx.Headers()) is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            429,
            b'{"error": {"message": "\xe4\xbd\x99\xe9\xa2\x9d\xe4\xb8\x8d\xe8\xb6\xb3", "code": null}}',
            InsufficientBalance,
        ),
        (402, b"payment required", InsufficientBalance),
        (
            503,
            b'{"error": {"message": "no available channel for model gpt-image-2", "code": "model_not_found"}}',
            ModelUnavailable,
        ),
        (404, b'{"error": {"message": "The model does not exist"}}', ModelUnavailable),
        # A 404 that names no model: the path is wrong, not the model.
        (404, b"404 page not found", EndpointNotFound),
        (404, b"<html><body><h1>404 Not Found</h1>nginx</body></html>", EndpointNotFound),
        (
            404,
            b'{"error": {"message": "Invalid URL (POST /v1/images/generations)", "type": "invalid_request_error"}}',
            EndpointNotFound,
        ),
        (
            403,
            b'{"error": {"message": "Your request was rejected as a result of our safety system"}}',
            ContentBlocked,
        ),
        (502, b"<html>Bad gateway</html>", UpstreamUnavailable),
    ],
)
def test_proxy_error_shapes(
    client: UpstreamClient, status: int, body: bytes, expected: type[Exception]
) -> None:
    assert isinstance(client.error_from(status, httpx.Headers(), body), expected)
