"""The chat backend (proxy models such as gpt-image-2-all) over real HTTP."""

from __future__ import annotations

import json

import pytest

from bot.backends.chat import ChatBackend, find_images, size_words
from bot.backends.http import UpstreamClient
from bot.blobs import MemoryBlobStore
from bot.errors import InputError, MalformedResponse, NoImageReturned
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, make_request, parent_of, png


@pytest.fixture
def backend(client: UpstreamClient, blobs: MemoryBlobStore) -> ChatBackend:
    return ChatBackend(client, blobs, ["gpt-image-2-all"])


def chat_request(prompt: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return make_request(prompt, model="gpt-image-2-all", backend="chat", **kwargs)  # type: ignore[arg-type]


async def test_generate_says_the_size_in_words(backend: ChatBackend, fake: FakeOpenAI) -> None:
    result = await backend.run(await chat_request("a green tree", size="2048x1152", quality="high"))

    sent = fake.last("/chat/completions").json
    assert set(sent) == {"model", "messages"}  # no size, n or quality fields
    text = sent["messages"][-1]["content"][-1]["text"]
    assert text == "Landscape 16:9, 2K (2048x1152). a green tree"
    assert colour_name(result.images[0].data) == "green"
    assert (result.images[0].width, result.images[0].height) == (2048, 1152)
    assert result.text == "Here you go!"


async def test_state_is_history_with_blob_references(backend: ChatBackend, fake: FakeOpenAI) -> None:
    first = await backend.run(await chat_request("a blue cat"))
    second = await backend.run(await chat_request("change it to red", parent_images=1), parent_of(first))

    assert colour_name(second.images[0].data) == "red"
    sent = fake.last("/chat/completions").json
    # Earlier turns travel as text; the image being edited rides in the new user message.
    assert sent["messages"][0] == {"role": "user", "content": "a blue cat"}
    assert sent["messages"][1] == {"role": "assistant", "content": "[image] Here you go!"}
    assert fake.last().input_image_hashes() == [first.images[0].blob_id]
    stored = json.dumps(second.state)
    assert "base64" not in stored and len(stored) < 2000
    assert [m["role"] for m in second.state["messages"]] == ["user", "assistant", "user", "assistant"]
    assert second.state["messages"][-1]["content"][0] == {"type": "image", "blob": second.images[0].blob_id}


async def test_uploads_go_as_data_urls(
    backend: ChatBackend, fake: FakeOpenAI, blobs: MemoryBlobStore
) -> None:
    photos = [png("yellow"), png("purple")]
    result = await backend.run(await chat_request("merge these", images=photos))

    parts = fake.last().json["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert colour_name(result.images[0].data) == "yellow"
    # The uploads are blobs too, so the history can refer to them.
    for blob in result.state["messages"][0]["content"][:2]:
        assert await blobs.get(blob["blob"])


async def test_data_url_answers(backend: ChatBackend, fake: FakeOpenAI) -> None:
    fake.chat_result = "data_url"
    result = await backend.run(await chat_request("a pink flamingo"))
    assert colour_name(result.images[0].data) == "pink"


async def test_an_answer_without_image(backend: ChatBackend, fake: FakeOpenAI) -> None:
    fake.chat_result = "text_only"
    with pytest.raises(NoImageReturned) as caught:
        await backend.run(await chat_request("something odd"))
    assert "can't draw" in caught.value.params["message"]


async def test_a_broken_image_link(backend: ChatBackend, fake: FakeOpenAI) -> None:
    fake.fail("url_404")
    with pytest.raises(MalformedResponse):
        await backend.run(await chat_request("a cat"))


async def test_one_image_per_call() -> None:
    with pytest.raises(InputError) as caught:
        await chat_request("cats", n=3)
    assert caught.value.message_key == "n_not_supported"


def test_size_words() -> None:
    assert size_words("auto") == ""
    assert size_words("1024x1024") == "Square 1:1 (1024x1024)"
    assert size_words("1024x1536") == "Portrait 2:3 (1024x1536)"
    assert size_words("3840x2160") == "Landscape 16:9, 4K (3840x2160)"
    assert size_words("2160x3840") == "Portrait 9:16, 4K (2160x3840)"


def test_find_images_in_replies() -> None:
    both = find_images(b"Done!\n![image](https://x.example/a.png)\n[Download](https://x.example/a.png)")
    assert both.links == ["https://x.example/a.png"] and both.text == "Done!"
    bare = find_images(b"see https://cdn.example/i/abc.webp?sig=1 enjoy")
    assert bare.links == ["https://cdn.example/i/abc.webp?sig=1"]
    data = find_images(b"![img](data:image/png;base64,iVBORw0KGgo=) ok")
    assert [bytes(url) for url in data.data_urls] == [b"data:image/png;base64,iVBORw0KGgo="]
    assert data.text == "ok"
    assert find_images(b"no pictures here").links == []
