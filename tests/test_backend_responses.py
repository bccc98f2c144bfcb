"""The responses backend (image_generation tool, previous_response_id) over real HTTP."""

from __future__ import annotations

import pytest
from PIL import Image

from bot.backends.fields import safety_identifier
from bot.backends.http import UpstreamClient
from bot.backends.responses import ResponsesBackend
from bot.blobs import MemoryBlobStore
from bot.errors import InputError
from bot.images.types import ParentTurn
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import PartialCollector, colour_name, encoded, make_request, parent_of, png


@pytest.fixture
def backend(client: UpstreamClient, blobs: MemoryBlobStore) -> ResponsesBackend:
    return ResponsesBackend(client, blobs, ["gpt-image-2"], mainline_model="gpt-5")


def responses_request(prompt: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return make_request(prompt, backend="responses", **kwargs)  # type: ignore[arg-type]


async def test_generate_uses_the_image_tool(backend: ResponsesBackend, fake: FakeOpenAI) -> None:
    result = await backend.run(await responses_request("a purple dragon", size="2048x2048", quality="low"))

    sent = fake.last("/responses").json
    assert sent["model"] == "gpt-5"
    assert sent["tools"] == [
        {
            "type": "image_generation",
            "model": "gpt-image-2",
            "size": "2048x2048",
            "quality": "low",
            "output_format": "png",
            "moderation": "auto",
        }
    ]
    assert sent["tool_choice"] == {"type": "image_generation"}
    assert sent["safety_identifier"] == safety_identifier("user-42") != "user-42"
    assert "previous_response_id" not in sent
    assert colour_name(result.images[0].data) == "purple"
    assert result.state["response_id"].startswith("resp_")
    assert result.revised_prompt == "A picture: a purple dragon"


async def test_a_chain_passes_previous_response_id(backend: ResponsesBackend, fake: FakeOpenAI) -> None:
    first = await backend.run(await responses_request("a blue cat"))
    second = await backend.run(await responses_request("change it to red", parent_images=1), parent_of(first))
    third = await backend.run(await responses_request("add a hat", parent_images=1), parent_of(second))

    sent = fake.last("/responses").json
    assert sent["previous_response_id"] == second.state["response_id"]
    assert fake.last().input_image_hashes() == []  # the provider already has the image
    assert colour_name(second.images[0].data) == "red"
    assert colour_name(third.images[0].data) == "red"


async def test_expired_parent_continues_from_the_stored_image(
    backend: ResponsesBackend, fake: FakeOpenAI
) -> None:
    first = await backend.run(await responses_request("a blue cat"))
    fake.forget_responses()  # past the provider's retention
    second = await backend.run(await responses_request("add a hat", parent_images=1), parent_of(first))

    attempts = [r for r in fake.requests if r.path.endswith("/responses")][1:]
    assert attempts[0].json["previous_response_id"] == first.state["response_id"]
    assert "previous_response_id" not in attempts[1].json
    assert attempts[1].input_image_hashes() == [first.images[0].blob_id]
    assert colour_name(second.images[0].data) == "blue"
    assert second.state["response_id"] != first.state["response_id"]


async def test_parent_from_another_backend(
    backend: ResponsesBackend, fake: FakeOpenAI, blobs: MemoryBlobStore
) -> None:
    blob = await blobs.put(png("green", (128, 128)))
    result = await backend.run(
        await responses_request("make it yellow", parent_images=1), ParentTurn("images", {}, (blob,))
    )

    assert "previous_response_id" not in fake.last().json
    assert fake.last().input_image_hashes() == [blob]
    assert colour_name(result.images[0].data) == "yellow"


async def test_uploads_and_mask(backend: ResponsesBackend, fake: FakeOpenAI) -> None:
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 10, 10))
    photo = png("orange")
    await backend.run(
        await responses_request("replace the corner", images=[photo], mask=encoded(mask, "PNG"))
    )

    sent = fake.last().json
    content = sent["input"][0]["content"]
    assert [part["type"] for part in content] == ["input_text", "input_image"]
    assert content[1]["detail"] == "auto"
    assert sent["tools"][0]["input_image_mask"]["image_url"].startswith("data:image/png;base64,")


async def test_streaming_partials(client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI) -> None:
    backend = ResponsesBackend(client, blobs, ["gpt-image-2"], partial_images=3)
    previews = PartialCollector()
    result = await backend.run(await responses_request("a white whale"), on_partial=previews)

    assert fake.last().json["stream"] is True
    assert fake.last().json["tools"][0]["partial_images"] == 3
    assert [p.index for p in previews.partials] == [0, 1, 2]
    assert colour_name(result.images[0].data) == "white"
    follow = await backend.run(
        await responses_request("make it black", parent_images=1), parent_of(result), on_partial=previews
    )
    assert fake.last().json["previous_response_id"] == result.state["response_id"]
    assert colour_name(follow.images[0].data) == "black"


async def test_expired_parent_without_a_stored_image_is_explained(
    backend: ResponsesBackend, fake: FakeOpenAI
) -> None:
    with pytest.raises(InputError) as caught:
        await backend.run(
            await responses_request("add a hat", parent_images=1),
            ParentTurn("responses", {"response_id": "resp_x"}),
        )
    assert caught.value.message_key == "parent_image_missing"
    assert len(fake.requests) == 1  # only the attempt that found the id gone
