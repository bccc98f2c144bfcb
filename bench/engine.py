"""Benchmark the conversation engine on SQLite and PostgreSQL.

1. Zero-latency provider (an in-process backend that answers at once with a
   1024x1024 PNG, stored as a blob like the real backends do): turns per second
   with many users at once, and the engine's own overhead per turn (p50/p99).
   Targets: ≥ 200 turns/s, overhead p99 ≤ 20 ms.
2. A provider that takes 30 s: 1,000 turns in flight at once, peak RSS and
   event-loop lag p99. Targets: RSS ≤ 300 MB, lag p99 ≤ 50 ms.
3. 100 messages at once: from the burst to each provider call, the engine and SQLite
   alone (bench/platform.py measures the same through the platforms).

Usage: ``python bench/engine.py [--turns 600] [--inflight 1000] [--latency 30]``.
PostgreSQL: ``REDRAW_BENCH_POSTGRES_URL`` (default: 127.0.0.1:5432, database test),
in a schema of its own that is dropped afterwards. Prints the figures, then one
JSON object as the last line.
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
import io
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.backends import measure_lag, percentile
from bot.backends.base import PartialCallback
from bot.blobs import BlobStore
from bot.engine.entry import Engine
from bot.engine.options import EngineOptions, Limits
from bot.engine.records import MessageKey
from bot.engine.seams import Action, ChatKind, Inbound, OutgoingImage, SettingsView
from bot.images.types import GeneratedImage, ImageRequest, ParentTurn, TurnResult, Usage
from storage.blobs import FileBlobStore
from storage.db import in_schema, scratch_schema, upgrade
from storage.sql import SqlStore

# p99 needs a few hundred samples to mean more than "the slowest one".
OVERHEAD_SAMPLES = 300
OVERHEAD_WARMUP = 20
POSTGRES_URL = os.environ.get(
    "REDRAW_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def picture() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((1024, 1024), 40).convert("RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


class InstantBackend:
    """A provider with a fixed latency, answering with one 1024x1024 PNG."""

    name = "images"

    def __init__(self, blobs: BlobStore, png: bytes, latency: float = 0.0) -> None:
        self.blobs = blobs
        self.png = png
        self.latency = latency
        self.blob_id: str | None = None

    async def run(
        self,
        request: ImageRequest,
        parent: ParentTurn | None = None,
        *,
        on_partial: PartialCallback | None = None,
    ) -> TurnResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.blob_id is None:
            self.blob_id = await self.blobs.put(self.png)
        else:
            await self.blobs.put(self.png, sha256=self.blob_id)
        image = GeneratedImage(self.png, "image/png", 1024, 1024, self.blob_id)
        return TurnResult(
            (image,), {"images": [self.blob_id]}, "images", "gpt-image-2", usage=Usage(50, 1056, 1106)
        )


class NullProgress:
    def show(self, text: str, preview: bytes | None = None) -> None:
        pass

    async def close(self, *, keep: bool) -> MessageKey | None:
        return None


class NullChannel:
    def __init__(self) -> None:
        self.sent = 0

    def progress(self, reply_to: MessageKey, actions: Sequence[Action], label: str = "") -> NullProgress:
        return NullProgress()

    async def send_images(
        self,
        reply_to: MessageKey,
        images: Sequence[OutgoingImage],
        caption: str,
        actions: Sequence[Action],
        *,
        replace: MessageKey | None = None,
    ) -> list[MessageKey]:
        self.sent += 1
        return [MessageKey(reply_to.platform, reply_to.chat_id, f"i{reply_to.message_id}")]

    async def send_text(
        self,
        reply_to: MessageKey,
        text: str,
        actions: Sequence[Action] = (),
        *,
        replace: MessageKey | None = None,
    ) -> MessageKey:
        return MessageKey(reply_to.platform, reply_to.chat_id, f"t{reply_to.message_id}")

    async def send_file(
        self, reply_to: MessageKey, data: bytes, filename: str, mime: str, locale: str | None = None
    ) -> MessageKey:
        return MessageKey(reply_to.platform, reply_to.chat_id, f"f{reply_to.message_id}")

    async def send_settings(self, reply_to: MessageKey, view: SettingsView) -> MessageKey:
        return MessageKey(reply_to.platform, reply_to.chat_id, f"s{reply_to.message_id}")


def inbound(number: int) -> Inbound:
    # A different user and chat each: the per-user and per-chat limits stay out of the way.
    return Inbound(
        MessageKey("bench", f"c{number}", f"m{number}"), f"u{number}", "U", ChatKind.PRIVATE, "a cat"
    )


def make_engine(store: SqlStore, blobs: BlobStore, backend: InstantBackend, inflight: int) -> Engine:
    options = EngineOptions(
        default_backend="images",
        models={"images": "gpt-image-2"},
        limits=Limits(per_user=2, per_chat=4, global_=inflight + 10),
        progress_every_s=5.0,
    )
    return Engine(store, blobs, {"images": backend}, options)


async def throughput(store: SqlStore, blobs: BlobStore, png: bytes, turns: int) -> dict[str, float]:
    backend = InstantBackend(blobs, png)
    engine = make_engine(store, blobs, backend, turns)
    channel = NullChannel()
    # Overhead: one turn at a time, from the message to the sent image.
    overheads = []
    for number in range(OVERHEAD_SAMPLES + OVERHEAD_WARMUP):
        started = time.perf_counter()
        await engine.handle(inbound(10_000_000 + number), channel)
        await engine.drain()
        overheads.append((time.perf_counter() - started) * 1000)
    # Throughput: many users at once.
    started = time.perf_counter()
    await asyncio.gather(*(engine.handle(inbound(number), channel) for number in range(turns)))
    await engine.drain()
    elapsed = time.perf_counter() - started
    assert channel.sent == turns + OVERHEAD_SAMPLES + OVERHEAD_WARMUP, f"only {channel.sent} turns finished"
    return {
        "turns_per_s": round(turns / elapsed, 1),
        "overhead_p50_ms": round(statistics.median(overheads[OVERHEAD_WARMUP:]), 2),
        "overhead_p99_ms": round(percentile(overheads[OVERHEAD_WARMUP:], 0.99), 2),
    }


async def in_flight(
    store: SqlStore, blobs: BlobStore, png: bytes, count: int, latency: float
) -> dict[str, float]:
    backend = InstantBackend(blobs, png, latency)
    engine = make_engine(store, blobs, backend, count)
    channel = NullChannel()
    process = psutil.Process()
    peak = process.memory_info().rss
    busiest = 0

    async def run_all() -> None:
        nonlocal peak, busiest
        await asyncio.gather(
            *(engine.handle(inbound(20_000_000 + number), channel) for number in range(count))
        )
        while engine.in_flight:
            busiest = max(busiest, engine.limiter.in_flight)
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.25)

    lags, elapsed = await measure_lag(run_all)
    assert channel.sent == count, f"only {channel.sent} of {count} turns finished"
    return {
        "inflight_peak": busiest,
        "rss_mb": round(peak / 1e6, 1),
        "loop_lag_p99_ms": round(percentile(lags, 0.99), 2),
        "loop_lag_max_ms": round(max(lags), 2),
        "wall_s": round(elapsed, 1),
    }


class StampedBackend(InstantBackend):
    """Notes when each call reaches the provider."""

    def __init__(self, blobs: BlobStore, png: bytes, latency: float) -> None:
        super().__init__(blobs, png, latency)
        self.called: list[float] = []
        self.expected = 0
        self.all_called = asyncio.Event()

    async def run(
        self,
        request: ImageRequest,
        parent: ParentTurn | None = None,
        *,
        on_partial: PartialCallback | None = None,
    ) -> TurnResult:
        self.called.append(time.perf_counter())
        if len(self.called) >= self.expected:
            self.all_called.set()
        return await super().run(request, parent, on_partial=on_partial)


async def start_lag(store: SqlStore, blobs: BlobStore, png: bytes, count: int) -> dict[str, float]:
    """``count`` messages at once (the burst a long poll hands over): from the burst to each
    provider call, without any platform in between. Five bursts, the first a warm-up."""
    backend = StampedBackend(blobs, png, 1.0)
    engine = make_engine(store, blobs, backend, count)
    channel = NullChannel()
    lags: list[float] = []
    for burst in range(5):
        backend.called.clear()
        backend.expected, backend.all_called = count, asyncio.Event()
        started = time.perf_counter()
        first = 30_000_000 + burst * count
        await asyncio.gather(*(engine.handle(inbound(first + n), channel) for n in range(count)))
        await backend.all_called.wait()
        if burst:
            lags += [(called - started) * 1000 for called in backend.called]
        await engine.drain()
    return {
        "start_lag_p50_ms": round(statistics.median(lags), 1),
        "start_lag_p99_ms": round(percentile(lags, 0.99), 1),
    }


async def with_sqlite(work: Any) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        await upgrade(url)
        store = SqlStore.from_url(url)
        try:
            result: dict[str, float] = await work(store, FileBlobStore(Path(folder) / "blobs"))
            return result
        finally:
            await store.close()


async def with_postgres(work: Any) -> dict[str, float]:
    async with scratch_schema(POSTGRES_URL, "redraw_bench") as schema:
        store = SqlStore.from_url(POSTGRES_URL, **in_schema(schema))
        with tempfile.TemporaryDirectory() as folder:
            try:
                result: dict[str, float] = await work(store, FileBlobStore(Path(folder) / "blobs"))
                return result
            finally:
                await store.close()


async def main(turns: int, inflight: int, latency: float) -> dict[str, float]:
    png = picture()
    sqlite = await with_sqlite(lambda store, blobs: throughput(store, blobs, png, turns))
    postgres = await with_postgres(lambda store, blobs: throughput(store, blobs, png, turns))
    held = await with_sqlite(lambda store, blobs: in_flight(store, blobs, png, inflight, latency))
    lag = await with_sqlite(lambda store, blobs: start_lag(store, blobs, png, 100))
    print(f"zero-latency provider, {turns} users at once, 1024x1024 results:")
    for name, figures in (("SQLite", sqlite), ("PostgreSQL", postgres)):
        print(
            f"  {name:<10} {figures['turns_per_s']:>7} turns/s (target ≥ 200); engine overhead per turn "
            f"p50 {figures['overhead_p50_ms']} ms, p99 {figures['overhead_p99_ms']} ms (target ≤ 20)"
        )
    print(f"{inflight} turns in flight with a {latency:g} s provider (SQLite):")
    print(
        f"  peak in flight {held['inflight_peak']}, peak RSS {held['rss_mb']} MB (target ≤ 300), "
        f"loop lag p99 {held['loop_lag_p99_ms']} ms (target ≤ 50), max {held['loop_lag_max_ms']} ms, "
        f"{held['wall_s']} s"
    )
    print(
        f"100 messages at once, to their provider calls (SQLite, no platform): "
        f"p50 {lag['start_lag_p50_ms']} ms, p99 {lag['start_lag_p99_ms']} ms"
    )
    return {
        "turns_per_s_sqlite": sqlite["turns_per_s"],
        "turns_per_s_postgres": postgres["turns_per_s"],
        "overhead_p50_ms_sqlite": sqlite["overhead_p50_ms"],
        "overhead_p50_ms_postgres": postgres["overhead_p50_ms"],
        "overhead_p99_ms_sqlite": sqlite["overhead_p99_ms"],
        "overhead_p99_ms_postgres": postgres["overhead_p99_ms"],
        "overhead_p99_ms": max(sqlite["overhead_p99_ms"], postgres["overhead_p99_ms"]),
        "rss_mb_1000_inflight": held["rss_mb"],
        "loop_lag_p99_ms": held["loop_lag_p99_ms"],
        "inflight_peak": held["inflight_peak"],
        "start_lag_p99_ms_100_at_once": lag["start_lag_p99_ms"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=600, help="turns for the throughput run")
    parser.add_argument("--inflight", type=int, default=1000, help="turns held in flight at once")
    parser.add_argument("--latency", type=float, default=30.0, help="seconds the slow provider takes")
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(main(arguments.turns, arguments.inflight, arguments.latency))))
