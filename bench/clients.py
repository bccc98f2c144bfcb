"""How long HTTP clients take to put a burst of requests on the wire.

The last figure between Redraw and a provider request at 100 messages at once is the
HTTP client's own: building 100 requests and their connections on one event loop.
This measures that alone: ``--requests`` POSTs to ``/images/generations`` at once,
the fake provider (in this process) answering after 1 s, three rounds 6 s apart. For
each round: when the first and the last request reached the provider, counted from
the moment they were all asked for.

Clients: httpx as Redraw configures it (50 connections kept alive for 5 s, so every
round after an idle spell opens new ones); httpx keeping every connection for 60 s;
aiohttp keeping them.

Usage: ``python bench/clients.py [--requests 100] [--idle 6]``. Prints the figures, then one JSON
object as the last line.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where bench/platform.py would stand
# in for the standard library's platform module (which pydantic, uuid and psutil import).
if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.openai_server import FakeOpenAI

Post = Callable[[int, int], Awaitable[int]]


def body(round_: int, number: int) -> dict[str, Any]:
    return {"model": "gpt-image-1", "prompt": f"a red kite {round_}-{number}", "size": "1024x1024"}


# Three rounds, 6 s apart: longer than httpx keeps an idle connection by default (5 s).
ROUNDS = 3
IDLE_S = 6.0


async def rounds(fake: FakeOpenAI, post: Post, count: int) -> list[dict[str, float]]:
    figures = []
    for round_ in range(ROUNDS):
        mark, started = len(fake.requests), time.monotonic()
        statuses = await asyncio.gather(*(post(round_, number) for number in range(count)))
        assert set(statuses) == {200}, statuses
        arrived = sorted(request.at - started for request in fake.requests[mark:])
        figures.append({"first_ms": round(arrived[0] * 1000, 1), "last_ms": round(arrived[-1] * 1000, 1)})
        await asyncio.sleep(IDLE_S)
    return figures


async def with_httpx(fake: FakeOpenAI, count: int, limits: httpx.Limits) -> list[dict[str, float]]:
    async with httpx.AsyncClient(base_url=fake.base_url + "/", limits=limits, timeout=60) as client:

        async def post(round_: int, number: int) -> int:
            response = await client.post("images/generations", json=body(round_, number))
            return response.status_code

        return await rounds(fake, post, count)


async def with_aiohttp(fake: FakeOpenAI, count: int) -> list[dict[str, float]]:
    connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(round_: int, number: int) -> int:
            url = fake.base_url + "/images/generations"
            async with session.post(url, json=body(round_, number)) as response:
                await response.read()
                return response.status

        return await rounds(fake, post, count)


async def main(count: int) -> dict[str, list[dict[str, float]]]:
    fake = FakeOpenAI()
    fake.images_result = "url"
    fake.latency = 1.0
    await fake.start()
    try:
        return {
            "httpx_as_configured": await with_httpx(
                fake, count, httpx.Limits(max_connections=200, max_keepalive_connections=50)
            ),
            "httpx_kept_60s": await with_httpx(
                fake,
                count,
                httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=60),
            ),
            "aiohttp_kept_60s": await with_aiohttp(fake, count),
        }
    finally:
        await fake.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--idle", type=float, default=IDLE_S, help="seconds between rounds")
    arguments = parser.parse_args()
    IDLE_S = arguments.idle
    results = asyncio.run(main(arguments.requests))
    for name, figures in results.items():
        shown = ", ".join(f"{f['first_ms']}–{f['last_ms']} ms" for f in figures)
        print(f"{name}: {arguments.requests} requests reached the provider within {shown} (rounds 1-3)")
    print(json.dumps(results))
