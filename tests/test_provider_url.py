"""What OPENAI_BASE_URL may carry besides a host and a path: a gateway's query (sent with
every request) and a proxy's login (Basic auth, only when no key would be displaced)."""

from __future__ import annotations

import base64

import pytest

from bot.app.config import ConfigError, load_settings
from bot.app.wiring import upstream_client
from bot.backends.images import ImagesBackend
from bot.blobs import MemoryBlobStore
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, make_request, parent_of


async def test_a_query_in_the_base_url_goes_with_every_request(fake: FakeOpenAI) -> None:
    settings = load_settings(
        openai_api_key="sk-test", openai_base_url=fake.base_url + "?api-version=2025-04-01"
    )
    fake.images_result = "url"
    async with upstream_client(settings) as client:
        backend = ImagesBackend(client, MemoryBlobStore(), ["gpt-image-1"])
        first = await backend.run(await make_request("a blue cat"))
        second = await backend.run(await make_request("make it red", parent_images=1), parent_of(first))

    assert colour_name(second.images[0].data) == "red"
    calls = [request for request in fake.requests if request.path.startswith("/v1/images/")]
    assert [request.path for request in calls] == ["/v1/images/generations", "/v1/images/edits"]
    assert all(request.query == {"api-version": "2025-04-01"} for request in calls)
    assert all(request.headers["Authorization"] == "Bearer sk-test" for request in calls)


async def test_a_login_in_the_base_url_is_the_proxys_basic_auth(fake: FakeOpenAI) -> None:
    login = fake.base_url.replace("http://", "http://relay:s3cret@")
    settings = load_settings(openai_base_url=login)
    async with upstream_client(settings) as client:
        backend = ImagesBackend(client, MemoryBlobStore(), ["gpt-image-1"])
        await backend.run(await make_request("a green field"))

    sent = fake.last("/images/generations")
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"relay:s3cret").decode()


def test_a_login_in_the_base_url_beside_a_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://relay:s3cret@proxy.example.com/v1")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("OPENAI_BASE_URL: carries a login")
    assert "OPENAI_API_KEY" in message
    assert "s3cret" not in message
