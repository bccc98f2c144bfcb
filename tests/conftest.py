from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from bot.backends.http import UpstreamClient
from bot.blobs import MemoryBlobStore
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.spec import SpecValidator, spec_path

TEST_API_KEY = "sk-test-0123456789abcdef-SECRET"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never see the developer's real keys or .env."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "REDRAW_", "TELEGRAM_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def spec_validator() -> SpecValidator:
    path = spec_path()
    if not path.exists():
        message = f"OpenAI's OpenAPI file is missing at {path} (../shared/spec beside the repo)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SpecValidator(path)


@pytest.fixture
async def fake(request: pytest.FixtureRequest, spec_validator: SpecValidator) -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(validator=spec_validator)
    await server.start()
    yield server
    await server.close()
    if request.node.get_closest_marker("spec_violations_expected") is None:
        assert server.spec_violations == [], "requests violated OpenAI's OpenAPI spec"


class RecordingSleep:
    """Stands in for asyncio.sleep in the retry policy: records waits, waits not."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def client(fake: FakeOpenAI, sleeps: RecordingSleep) -> AsyncIterator[UpstreamClient]:
    upstream = UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY, sleep=sleeps)
    yield upstream
    await upstream.aclose()


@pytest.fixture
def blobs() -> MemoryBlobStore:
    return MemoryBlobStore()
