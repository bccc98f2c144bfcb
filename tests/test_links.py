"""Image links in an answer, from an attacker's side: where they may lead, how long they
may take, what they must be, and how many of them count. The real client and backends
against the fake provider, and another local server standing for the bot's own network."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest

from bot.app.config import load_settings
from bot.app.wiring import upstream_client
from bot.backends.chat import ChatBackend
from bot.backends.http import UpstreamClient
from bot.backends.images import ImagesBackend
from bot.backends.links import refusal
from bot.backends.responses import ResponsesBackend
from bot.blobs import MemoryBlobStore
from bot.errors import LinkRefused, LinkTooSlow, UpstreamError
from bot.messages import render_error
from tests.conftest import TEST_API_KEY
from tests.fakes.link_host import LinkHost
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import PartialCollector, colour_name, make_request, png


@pytest.fixture
async def elsewhere() -> AsyncIterator[LinkHost]:
    host = LinkHost()
    await host.start()
    yield host
    await host.close()


@pytest.fixture
def chat(client: UpstreamClient, blobs: MemoryBlobStore) -> ChatBackend:
    return ChatBackend(client, blobs, ["gpt-image-2-all"])


async def draw(backend: ChatBackend, prompt: str = "a cat"):  # type: ignore[no-untyped-def]
    return await backend.run(await make_request(prompt, model="gpt-image-2-all", backend="chat"))


def answer_with(fake: FakeOpenAI, *urls: str) -> None:
    fake.chat_content = "Here you go!\n\n" + "\n".join(f"![image]({url})" for url in urls)


def explained(error: UpstreamError) -> None:
    for locale in ("en", "zh"):
        text = render_error(error, locale)
        assert text and "{" not in text and error.message_key != "internal_error"


class FakeDNS:
    """Stands in for the system resolver: names the tests make up, and how often each was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers.get(host) or [host]


# --- where a link may lead ----------------------------------------------------------


async def test_a_link_to_another_local_port_is_refused_unvisited(
    chat: ChatBackend, fake: FakeOpenAI, elsewhere: LinkHost
) -> None:
    answer_with(fake, elsewhere.url("/png/red"))
    with pytest.raises(LinkRefused) as caught:
        await draw(chat)
    assert elsewhere.visits == []
    assert "private or loopback" in caught.value.detail
    explained(caught.value)


async def test_a_redirect_from_the_provider_to_another_local_port_is_refused(
    chat: ChatBackend, fake: FakeOpenAI, elsewhere: LinkHost
) -> None:
    answer_with(fake, fake.redirect_url(elsewhere.url("/png/red")))
    with pytest.raises(LinkRefused):
        await draw(chat)
    assert len(fake.fetched) == 1 and fake.fetched[0].startswith("/redirect")  # the first hop only
    assert elsewhere.visits == []


async def test_a_redirect_from_elsewhere_is_checked_at_every_hop(
    fake: FakeOpenAI, elsewhere: LinkHost, blobs: MemoryBlobStore
) -> None:
    """Even where the first host is allowed, the hop it redirects to is checked again."""
    dns = FakeDNS({"cdn.example": ["127.0.0.1"], "metadata.example": ["169.254.169.254"]})
    async with UpstreamClient(
        base_url=fake.base_url, api_key=TEST_API_KEY, fetch_private_links=True, resolve=dns
    ) as client:
        link = elsewhere.redirect_url(f"http://metadata.example:{elsewhere.port}/png/red")
        answer_with(fake, link.replace("127.0.0.1", "cdn.example"))
        with pytest.raises(LinkRefused) as caught:
            await draw(ChatBackend(client, blobs, ["gpt-image-2-all"]))
    assert "link-local" in caught.value.detail
    assert [visit.path.split("?")[0] for visit in elsewhere.visits] == ["/redirect"]
    assert dns.asked == ["cdn.example", "metadata.example"]


async def test_links_on_the_provider_host_work_and_may_redirect_there(
    chat: ChatBackend, fake: FakeOpenAI
) -> None:
    answer_with(fake, fake.redirect_url(fake.file_url("a.png", png("green"))))
    result = await draw(chat)
    assert colour_name(result.images[0].data) == "green"
    assert [path.split("?")[0] for path in fake.fetched] == ["/redirect", "/files/a.png"]


@pytest.mark.parametrize(("hops", "allowed"), [(3, True), (4, False)])
async def test_at_most_three_redirects(chat: ChatBackend, fake: FakeOpenAI, hops: int, allowed: bool) -> None:
    link = fake.file_url("a.png", png("yellow"))
    for _ in range(hops):
        link = fake.redirect_url(link)
    answer_with(fake, link)
    if allowed:
        assert colour_name((await draw(chat)).images[0].data) == "yellow"
        assert len(fake.fetched) == hops + 1
    else:
        with pytest.raises(LinkRefused):
            await draw(chat)
        assert len(fake.fetched) == 4 and "/files/a.png" not in fake.fetched


@pytest.mark.parametrize("link", ["ftp://127.0.0.1/a.png", "file:///etc/passwd", "gopher://x/1"])
async def test_other_schemes_are_refused(chat: ChatBackend, fake: FakeOpenAI, link: str) -> None:
    # Structured content parts carry any URL; the regexes would never pick these out of text.
    fake.chat_content = [{"type": "image_url", "image_url": {"url": link}}, {"type": "text", "text": "here"}]
    with pytest.raises(LinkRefused):
        await draw(chat)


async def test_plain_http_only_when_the_provider_is_http(elsewhere: LinkHost, blobs: MemoryBlobStore) -> None:
    async with UpstreamClient(
        base_url="https://api.example.test/v1", api_key=TEST_API_KEY, fetch_private_links=True
    ) as client:
        with pytest.raises(LinkRefused) as caught:
            await client.download(elsewhere.url("/png/red"))
    assert "http://" in caught.value.detail and elsewhere.visits == []


async def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected(
    fake: FakeOpenAI, elsewhere: LinkHost
) -> None:
    """pictures.example exists only in this resolver: the picture arriving proves httpx
    connected to the address we checked and never looked the name up again."""
    dns = FakeDNS({"pictures.example": ["127.0.0.1"]})
    link = elsewhere.url("/png/blue", host="pictures.example")
    async with UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY, resolve=dns) as client:
        with pytest.raises(LinkRefused):
            await client.download(link)
        assert elsewhere.visits == []
    async with UpstreamClient(
        base_url=fake.base_url, api_key=TEST_API_KEY, resolve=dns, fetch_private_links=True
    ) as client:
        data, mime = await client.download(link)
    assert colour_name(data) == "blue" and mime == "image/png"
    assert [visit.host for visit in elsewhere.visits] == [f"pictures.example:{elsewhere.port}"]
    assert dns.asked == ["pictures.example", "pictures.example"]


async def test_a_name_with_any_private_address_is_refused(fake: FakeOpenAI, elsewhere: LinkHost) -> None:
    dns = FakeDNS({"mixed.example": ["93.184.216.34", "127.0.0.1"]})
    async with UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY, resolve=dns) as client:
        with pytest.raises(LinkRefused):
            await client.download(elsewhere.url("/png/red", host="mixed.example"))
    assert elsewhere.visits == []


async def test_the_private_links_switch(
    fake: FakeOpenAI, elsewhere: LinkHost, blobs: MemoryBlobStore
) -> None:
    settings = load_settings(openai_base_url=fake.base_url, redraw_fetch_private_links="true")
    dns = FakeDNS({"metadata.example": ["169.254.169.254"]})
    async with upstream_client(settings, resolve=dns) as client:
        answer_with(fake, elsewhere.url("/png/purple"))
        result = await draw(ChatBackend(client, blobs, ["gpt-image-2-all"]))
        assert colour_name(result.images[0].data) == "purple"
        # Link-local (where cloud metadata lives) stays refused whatever the switch says.
        with pytest.raises(LinkRefused):
            await client.download("http://metadata.example/latest/meta-data/")
    assert load_settings().redraw_fetch_private_links is False


@pytest.mark.parametrize(
    ("address", "private_ok", "reason"),
    [
        ("8.8.8.8", False, None),
        ("2606:4700:4700::1111", False, None),
        ("64:ff9b::808:808", False, None),  # NAT64 of a public address
        ("127.0.0.1", False, "private or loopback"),
        ("::1", False, "private or loopback"),
        ("10.1.2.3", False, "private or loopback"),
        ("172.16.0.1", False, "private or loopback"),
        ("192.168.1.1", False, "private or loopback"),
        ("100.64.0.1", False, "private or loopback"),
        ("fd12::1", False, "private or loopback"),
        ("::ffff:127.0.0.1", False, "private or loopback"),
        ("::ffff:10.0.0.1", False, "private or loopback"),
        ("64:ff9b::a00:1", False, "private or loopback"),  # NAT64 of 10.0.0.1
        ("2002:c0a8:101::", False, "private or loopback"),  # 6to4 of 192.168.1.1
        ("169.254.169.254", False, "link-local"),
        ("169.254.169.254", True, "link-local"),
        ("fd00:ec2::254", True, "link-local"),
        ("fe80::1", True, "link-local"),
        ("224.0.0.1", False, "multicast"),
        ("ff02::1", True, "multicast"),
        ("0.0.0.0", True, "reserved"),
        ("240.0.0.1", True, "reserved"),
        ("255.255.255.255", True, "reserved"),
        ("10.1.2.3", True, None),
        ("127.0.0.1", True, None),
        ("fd12::1", True, None),
    ],
)
def test_which_addresses_a_link_may_reach(address: str, private_ok: bool, reason: str | None) -> None:
    found = refusal(ipaddress.ip_address(address), private_ok=private_ok)
    assert (found is None) if reason is None else (found is not None and reason in found)


# --- what a link must serve -----------------------------------------------------------


async def test_a_page_is_not_a_picture(chat: ChatBackend, fake: FakeOpenAI) -> None:
    answer_with(fake, fake.file_url("login.png", b"<html><body>Sign in</body></html>", "text/html"))
    with pytest.raises(LinkRefused) as caught:
        await draw(chat)
    assert "text/html" in caught.value.detail


async def test_a_picture_without_an_image_type_is_known_by_its_bytes(
    chat: ChatBackend, fake: FakeOpenAI
) -> None:
    answer_with(fake, fake.file_url("a.bin", png("orange"), "application/octet-stream"))
    assert colour_name((await draw(chat)).images[0].data) == "orange"


# --- how long a link may take -----------------------------------------------------------


async def test_a_link_that_drips_misses_its_deadline(fake: FakeOpenAI, blobs: MemoryBlobStore) -> None:
    async with UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY, link_timeout=0.5) as client:
        answer_with(fake, fake.drip_url(every=0.05))
        with pytest.raises(LinkTooSlow) as caught:
            await draw(ChatBackend(client, blobs, ["gpt-image-2-all"]))
    explained(caught.value)
    assert [path.split("?")[0] for path in fake.fetched] == ["/drip"]  # not retried


async def test_a_link_under_the_minimum_rate_is_dropped(fake: FakeOpenAI, blobs: MemoryBlobStore) -> None:
    async with UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY, link_grace_s=0.2) as client:
        answer_with(fake, fake.drip_url(every=0.05))
        with pytest.raises(LinkTooSlow) as caught:
            await draw(ChatBackend(client, blobs, ["gpt-image-2-all"]))
    assert "bytes/s" in caught.value.detail


async def test_links_that_drip_do_not_hold_the_body_slots(
    client: UpstreamClient, fake: FakeOpenAI, blobs: MemoryBlobStore
) -> None:
    """As many dripping links as there are body-read slots, then another chat's picture:
    it arrives while every drip is still hanging."""
    drips = [asyncio.create_task(client.download(fake.drip_url())) for _ in range(4)]
    await asyncio.wait_for(fake.until_dripping(4), 30)
    other = asyncio.create_task(
        ImagesBackend(client, blobs, ["gpt-image-2"]).run(await make_request("a red kite"))
    )
    done, _ = await asyncio.wait([other, *drips], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    try:
        assert done == {other}
        assert colour_name(other.result().images[0].data) == "red"
    finally:
        for drip in drips:
            drip.cancel()
        await asyncio.gather(*drips, return_exceptions=True)


# --- how many links count -----------------------------------------------------------------


async def test_thirty_links_in_one_answer_give_one_download(chat: ChatBackend, fake: FakeOpenAI) -> None:
    answer_with(fake, *(fake.file_url(f"{index}.png", png("cyan")) for index in range(30)))
    result = await draw(chat)
    assert len(result.images) == 1
    assert fake.fetched == ["/files/0.png"]


async def test_an_images_answer_with_more_than_n_links(
    client: UpstreamClient, fake: FakeOpenAI, blobs: MemoryBlobStore
) -> None:
    fake.images_result, fake.answer_images = "url", 30
    result = await ImagesBackend(client, blobs, ["gpt-image-2"]).run(await make_request("two red kites", n=2))
    assert len(result.images) == 2
    assert len(fake.fetched) == 2


@pytest.mark.parametrize("stream", [False, True])
async def test_an_images_answer_with_more_than_n_pictures(
    client: UpstreamClient, fake: FakeOpenAI, blobs: MemoryBlobStore, stream: bool
) -> None:
    fake.answer_images = 5
    backend = ImagesBackend(client, blobs, ["gpt-image-2"], partial_images=1 if stream else 0)
    previews = PartialCollector()
    result = await backend.run(await make_request("a red kite"), on_partial=previews)
    assert len(result.images) == 1
    assert fake.last().json.get("stream", False) is stream


async def test_a_response_with_more_than_n_pictures(
    client: UpstreamClient, fake: FakeOpenAI, blobs: MemoryBlobStore
) -> None:
    fake.answer_images = 3
    result = await ResponsesBackend(client, blobs, ["gpt-image-2"]).run(await make_request("a red kite"))
    assert len(result.images) == 1 and len(result.state["images"]) == 1


async def test_a_link_that_cannot_be_fetched_never_has_another_model_draw_again(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    chained = ChatBackend(client, blobs, ["gpt-image-2-all", "gpt-image-2-vip"])
    fake.files_unavailable = True
    with pytest.raises(UpstreamError) as caught:
        await draw(chained)
    assert not caught.value.model_fallback
    drawn = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert len(drawn) == 1, "the picture was paid for once; no second model may draw it"
    explained(caught.value)
