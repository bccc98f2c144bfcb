from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.backends.http import UpstreamClient
from bot.blobs import MemoryBlobStore
from storage.blobs import FileBlobStore
from storage.db import in_schema, scratch_database, scratch_schema, upgrade
from storage.sql import SqlStore
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.spec import SpecValidator, spec_path
from tests.fakes.telegram_server import FakeTelegram

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


POSTGRES_URL = os.environ.get("REDRAW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """The same tests on both databases. PostgreSQL gets a fresh schema per test."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'redraw.db'}"
        await upgrade(url)
        sql = SqlStore.from_url(url)
        yield sql
        await sql.close()
        return
    async with scratch_schema(POSTGRES_URL, "redraw_test") as schema:
        sql = SqlStore.from_url(POSTGRES_URL, **in_schema(schema))
        yield sql
        await sql.close()


@pytest.fixture
def file_blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A scratch PostgreSQL schema that several stores (several instances) can open."""
    async with scratch_schema(POSTGRES_URL, "redraw_test") as schema:
        yield schema


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """The URL of a scratch PostgreSQL database, for bot processes that take only a URL."""
    async with scratch_database(POSTGRES_URL, "redraw_test") as url:
        yield url


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API server."""
    server = FakeTelegram()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    """The fake Discord (REST, gateway, CDN)."""
    server = FakeDiscord()
    await server.start()
    yield server
    await server.close()
