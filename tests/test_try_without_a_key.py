"""README's "Try it without a key": the fake provider run on its own, from the clone,
with OpenAI's OpenAPI file beside it or without it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.fakes.spec import SpecValidator
from tests.helpers import colour_name
from tests.test_cli import REDRAW, run

CLONE = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def fake_provider(env: dict[str, str]) -> AsyncIterator[tuple[str, str]]:
    """``python -m tests.fakes.serve`` from the clone: (its base URL, what it said on stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.serve",
        "--port",
        "0",
        cwd=CLONE,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        assert line.startswith("listening on "), line + (await process.stderr.read()).decode()
        said = (await asyncio.wait_for(process.stderr.readline(), timeout=60)).decode()
        yield line.removeprefix("listening on ").strip(), said
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=60)
    assert code == 0


async def test_the_fake_provider_runs_from_a_clone_without_the_spec(tmp_path: Path) -> None:
    missing = tmp_path / "shared" / "spec" / "openai-openapi.yaml"
    async with fake_provider({"REDRAW_OPENAPI_SPEC": str(missing)}) as (base_url, said):
        assert f"no OpenAPI file at {missing}: request bodies are not checked" in said
        code, out, err = await run(
            str(REDRAW),
            "draw",
            "a blue cat",
            "-o",
            str(tmp_path),
            env={"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "test"},
        )
    assert code == 0, err
    assert colour_name(Path(out.strip()).read_bytes()) == "blue"


async def test_the_fake_provider_checks_requests_when_the_spec_is_there(
    spec_validator: SpecValidator, tmp_path: Path
) -> None:
    async with fake_provider({"REDRAW_OPENAPI_SPEC": str(spec_validator.path)}) as (base_url, said):
        assert f"checking request bodies against {spec_validator.path}" in said
        code, _, err = await run(
            str(REDRAW),
            "draw",
            "a red cat",
            "-o",
            str(tmp_path),
            env={"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "test"},
        )
    assert code == 0, err
