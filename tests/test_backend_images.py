"""The images backend over real HTTP against the fake provider."""

from __future__ import annotations

import pytest
from PIL import Image

from bot.backends.http import UpstreamClient
from bot.backends.images import ImagesBackend
from bot.blobs import MemoryBlobStore
from bot.errors import InputError
from bot.images.types import ParentTurn
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import PartialCollector, colour_name, encoded, make_request, parent_of, png


@pytest.fixture
def backend(client: UpstreamClient, blobs: MemoryBlobStore) -> ImagesBackend:
    return ImagesBackend(client, blobs, ["gpt-image-2"])


async def test_generate_sends_a_json_generation(backend: ImagesBackend, fake: FakeOpenAI) -> None:
    result = await backend.run(await make_request("a blue cat", size="1536x1024", quality="high"))

    assert [colour_name(image.data) for image in result.images] == ["blue"]
    assert (result.images[0].width, result.images[0].height) == (1536, 1024)
    sent = fake.last("/images/generations").json
    assert sent["model"] == "gpt-image-2"
    assert sent["size"] == "1536x1024" and sent["quality"] == "high"
    assert "background" not in sent and "input_fidelity" not in sent and "response_format" not in sent
    assert sent["user"] != "user-42" and len(sent["user"]) == 64  # hashed, never the raw id
    assert result.request_id is not None and result.request_id.startswith("req_")
    assert result.state["images"] == [result.images[0].blob_id]
    assert result.usage is not None and result.usage.output_tokens == 4160


async def test_a_chain_of_edits_sends_each_parent_image(backend: ImagesBackend, fake: FakeOpenAI) -> None:
    first = await backend.run(await make_request("a blue cat"))
    second = await backend.run(await make_request("change it to red", parent_images=1), parent_of(first))
    third = await backend.run(
        await make_request("now make it a bit brighter", parent_images=1), parent_of(second)
    )

    assert colour_name(second.images[0].data) == "red"
    assert colour_name(third.images[0].data) == "red"  # no colour named: the parent's colour carries on
    edits = [r for r in fake.requests if r.path.endswith("/images/edits")]
    assert [r.input_image_hashes() for r in edits] == [[first.images[0].blob_id], [second.images[0].blob_id]]
    assert edits[0].field_values["prompt"] == "change it to red"


async def test_branching_from_an_older_version(backend: ImagesBackend, fake: FakeOpenAI) -> None:
    versions = [await backend.run(await make_request("a green field"))]
    for colour in ("red", "blue", "yellow"):
        versions.append(
            await backend.run(
                await make_request(f"make it {colour}", parent_images=1), parent_of(versions[-1])
            )
        )
    branch = await backend.run(await make_request("add a moon", parent_images=1), parent_of(versions[1]))

    assert fake.last("/images/edits").input_image_hashes() == [versions[1].images[0].blob_id]
    assert colour_name(branch.images[0].data) == "red"


async def test_restyle_and_fuse_uploads(backend: ImagesBackend, fake: FakeOpenAI) -> None:
    photos = [png("green"), png("yellow", (80, 48)), png("purple")]
    restyled = await backend.run(await make_request("as a watercolour", images=photos[:1]))
    fused = await backend.run(await make_request("blend these into one scene", images=photos))

    assert colour_name(restyled.images[0].data) == "green"
    assert len(fake.last("/images/edits").files) == 3
    assert all(f.name == "image[]" for f in fake.last("/images/edits").files)
    assert fake.last("/images/edits").input_image_hashes() == [
        img.sha256 for img in (await make_request("x", images=photos)).images
    ]
    assert fused.images


async def test_parent_image_goes_first_then_uploads(backend: ImagesBackend, fake: FakeOpenAI) -> None:
    first = await backend.run(await make_request("a blue cat"))
    upload = png("pink")
    await backend.run(
        await make_request("put this hat on it", images=[upload], parent_images=1), parent_of(first)
    )

    hashes = fake.last("/images/edits").input_image_hashes()
    assert hashes[0] == first.images[0].blob_id and len(hashes) == 2


async def test_mask_is_sent_with_the_first_image(backend: ImagesBackend, fake: FakeOpenAI) -> None:
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 32, 32))
    await backend.run(
        await make_request("fill the hole with red", images=[png("blue")], mask=encoded(mask, "PNG"))
    )

    files = fake.last("/images/edits").files
    assert [f.name for f in files] == ["image[]", "mask"]


async def test_several_images_and_url_results(backend: ImagesBackend, fake: FakeOpenAI) -> None:
    fake.images_result = "url"
    result = await backend.run(await make_request("two orange suns", n=2))

    assert [colour_name(image.data) for image in result.images] == ["orange", "orange"]
    assert fake.last("/images/generations").json["n"] == 2


async def test_streaming_delivers_partial_previews(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    backend = ImagesBackend(client, blobs, ["gpt-image-2"], partial_images=2)
    previews = PartialCollector()
    result = await backend.run(await make_request("a cyan square"), on_partial=previews)

    assert [p.index for p in previews.partials] == [0, 1]
    assert colour_name(previews.partials[0].data) == "cyan"
    assert colour_name(result.images[0].data) == "cyan"
    assert fake.last().json["stream"] is True and fake.last().json["partial_images"] == 2

    edited = await backend.run(
        await make_request("make it red", parent_images=1), parent_of(result), on_partial=previews
    )
    assert colour_name(edited.images[0].data) == "red"
    assert len(previews.partials) == 4
    assert fake.last("/images/edits").field_values["stream"] == "true"


async def test_streaming_falls_back_when_the_proxy_ignores_it(
    client: UpstreamClient, blobs: MemoryBlobStore, fake: FakeOpenAI
) -> None:
    fake.ignore_stream = True
    backend = ImagesBackend(client, blobs, ["gpt-image-2"], partial_images=1)
    previews = PartialCollector()
    result = await backend.run(await make_request("a black cat"), on_partial=previews)

    assert colour_name(result.images[0].data) == "black" and previews.partials == []


async def test_parent_made_by_another_backend_continues_from_its_image(
    backend: ImagesBackend, fake: FakeOpenAI, blobs: MemoryBlobStore
) -> None:
    blob = await blobs.put(png("blue", (256, 256)))
    parent = ParentTurn("responses", {"response_id": "resp_gone"}, (blob,))
    result = await backend.run(await make_request("make it red", parent_images=1), parent)

    assert fake.last("/images/edits").input_image_hashes() == [blob]
    assert colour_name(result.images[0].data) == "red"


async def test_a_parent_whose_image_is_gone_is_refused_before_any_call(
    backend: ImagesBackend, fake: FakeOpenAI
) -> None:
    parent = ParentTurn("images", {"images": ["0" * 64]}, ("0" * 64,))
    with pytest.raises(InputError) as caught:
        await backend.run(await make_request("make it red", parent_images=1), parent)
    assert caught.value.message_key == "parent_image_missing"
    assert fake.requests == []
