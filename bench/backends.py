"""Benchmark the image backends against the fake provider (run in its own process).

1. Event-loop lag while 20 calls run at once, each returning a 3840x2160 PNG as
   ``b64_json`` (~16 MB of JSON): decoding must happen off the loop.
   Target: p99 ≤ 20 ms.
2. Our client's overhead per 1024x1024 call against a bare httpx request that
   only posts, parses the JSON and base64-decodes the image.
   Target: ≤ 5 ms. Also shown: the transfer alone (post and read, nothing else).

Usage: ``python bench/backends.py [--calls 20] [--rounds 30]``. Prints the figures,
then one JSON object as the last line.
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
import base64
import json
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backends.http import UpstreamClient
from bot.backends.images import ImagesBackend
from bot.blobs import MemoryBlobStore
from bot.images.types import ImageParams
from bot.images.validation import prepare_request

TICK_S = 0.005


def start_fake() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.serve", "--texture", "--no-validate"],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise SystemExit(f"the fake provider did not start: {line!r}")
    return process, line.removeprefix("listening on ").strip()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure_lag(work: Callable[[], Awaitable[Any]]) -> tuple[list[float], float]:
    """Run ``work`` while a ticker records how late each 5 ms sleep wakes up."""
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(TICK_S)
            lags.append((time.perf_counter() - started - TICK_S) * 1000)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    return lags, elapsed


async def bench(base_url: str, calls: int, rounds: int) -> dict[str, float]:
    client = UpstreamClient(base_url=base_url, api_key="sk-bench")
    backend = ImagesBackend(client, MemoryBlobStore(), ["gpt-image-2"])
    big = await prepare_request("a red 4K landscape", ImageParams(size="3840x2160"), model="gpt-image-2")
    small = await prepare_request("a blue square", ImageParams(size="1024x1024"), model="gpt-image-2")
    # Warm up: the fake draws each picture once, connections open.
    first = await backend.run(big)
    await backend.run(small)
    size_mb = len(first.images[0].data) / 1e6

    # 1. loop lag with `calls` concurrent 4K results
    async def concurrent() -> None:
        await asyncio.gather(*(backend.run(big) for _ in range(calls)))

    lags, elapsed = await measure_lag(concurrent)

    # 2. overhead per 1024x1024 call, against a bare httpx request
    bare_client = httpx.AsyncClient(base_url=base_url + "/", timeout=600)
    body = {
        "model": "gpt-image-2",
        "prompt": "a blue square",
        "n": 1,
        "size": "1024x1024",
        "quality": "auto",
        "output_format": "png",
        "moderation": "auto",
    }

    async def bare_call() -> bytes:
        response = await bare_client.post("images/generations", json=body)
        return base64.b64decode(response.json()["data"][0]["b64_json"])

    async def transfer_only() -> bytes:
        return (await bare_client.post("images/generations", json=body)).content

    ours: list[float] = []
    bare: list[float] = []
    transfer: list[float] = []
    for _ in range(rounds):  # interleaved, so drift hits all alike
        for call, times in ((bare_call, bare), (transfer_only, transfer), (lambda: backend.run(small), ours)):
            started = time.perf_counter()
            await call()
            times.append((time.perf_counter() - started) * 1000)
    await bare_client.aclose()
    await client.aclose()

    return {
        "calls": calls,
        "image_mb_4k": round(size_mb, 2),
        "wall_s_4k": round(elapsed, 2),
        "loop_lag_p50_ms": round(percentile(lags, 0.5), 2),
        "loop_lag_p99_ms": round(percentile(lags, 0.99), 2),
        "loop_lag_max_ms": round(max(lags), 2),
        "bare_ms_1024": round(statistics.median(bare), 2),
        "ours_ms_1024": round(statistics.median(ours), 2),
        "transfer_only_ms_1024": round(statistics.median(transfer), 2),
        "overhead_ms_1024": round(statistics.median(ours) - statistics.median(bare), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20, help="concurrent 4K calls")
    parser.add_argument("--rounds", type=int, default=30, help="1024x1024 calls for the overhead")
    args = parser.parse_args()
    process, base_url = start_fake()
    try:
        figures = asyncio.run(bench(base_url, args.calls, args.rounds))
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(
        f"{figures['calls']} concurrent 3840x2160 results ({figures['image_mb_4k']} MB PNG each) "
        f"in {figures['wall_s_4k']} s"
    )
    print(
        f"  event-loop lag: p50 {figures['loop_lag_p50_ms']} ms, p99 {figures['loop_lag_p99_ms']} ms "
        f"(target ≤ 20), max {figures['loop_lag_max_ms']} ms"
    )
    print(
        f"1024x1024 call: bare httpx {figures['bare_ms_1024']} ms, ours {figures['ours_ms_1024']} ms, "
        f"overhead {figures['overhead_ms_1024']} ms (target ≤ 5)"
    )
    print(f"  transfer only (no parsing, no decoding): {figures['transfer_only_ms_1024']} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
