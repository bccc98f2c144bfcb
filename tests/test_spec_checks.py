"""Requests are checked against OpenAI's OpenAPI file, and a violation is caught."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.spec import SpecValidator


def test_the_schema_comes_from_the_spec(spec_validator: SpecValidator) -> None:
    assert spec_validator.schema_ref("/v1/images/generations", "application/json").endswith(
        "/CreateImageRequest"
    )
    assert spec_validator.schema_ref("/v1/images/edits", "multipart/form-data").endswith(
        "/CreateImageEditRequest"
    )
    assert spec_validator.schema_ref("/v1/responses", "application/json").endswith("/CreateResponse")


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/images/generations", {"prompt": "x", "n": "two"}, "n"),
        ("/v1/images/generations", {"prompt": "x", "quality": "ultra"}, "quality"),
        ("/v1/images/generations", {"prompt": "x", "moderation": "none"}, "moderation"),
        ("/v1/images/generations", {"model": "gpt-image-2"}, "<body>"),
        (
            "/v1/responses",
            {"model": "gpt-5", "input": "x", "tools": [{"type": "image_generation", "partial_images": 9}]},
            "tools",
        ),
        (
            "/v1/responses",
            {
                "model": "gpt-5",
                "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]}],
            },
            "input",
        ),
        (
            "/v1/chat/completions",
            {
                "model": "m",
                "messages": [
                    {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ],
            },
            "messages",
        ),
    ],
)
def test_violations_are_found(
    spec_validator: SpecValidator, path: str, body: dict[str, object], where: str
) -> None:
    errors = spec_validator.validate_json(path, body)
    assert errors and errors[0].startswith(where)


def test_multipart_edits(spec_validator: SpecValidator) -> None:
    good = {
        "prompt": ["x"],
        "model": ["gpt-image-2"],
        "n": ["2"],
        "stream": ["true"],
        "partial_images": ["1"],
    }
    assert spec_validator.validate_multipart("/v1/images/edits", good, {"image[]": 3, "mask": 1}) == []
    assert spec_validator.validate_multipart("/v1/images/edits", {"prompt": ["x"]}, {"image[]": 17})
    assert spec_validator.validate_multipart(
        "/v1/images/edits", {"prompt": ["x"], "n": ["0"]}, {"image[]": 1}
    )


@pytest.mark.spec_violations_expected
async def test_the_fake_rejects_and_records_a_violating_request(fake: FakeOpenAI) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{fake.base_url}/images/generations", json={"prompt": "x", "size": 1024, "n": 0}
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "spec_violation"
    assert any("size" in v for v in fake.spec_violations) and any("n:" in v for v in fake.spec_violations)
