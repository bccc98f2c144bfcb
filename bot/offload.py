"""Keeping the event loop free while handling multi-megabyte images.

Two things stall a loop even when the heavy work "runs in a thread":

- GIL contention. Python's GIL is not fair: with several busy worker threads
  the loop thread can wait 100 ms+ for its turn. CPU work (base64, JSON, Pillow)
  therefore runs on *one* dedicated thread, so the loop competes with a single
  thread and waits at most one switch interval plus one short C call.
- Eager reads. When a large body already sits in the socket buffer, httpx
  hands over chunk after chunk without the loop ever getting a turn (~80 ms
  for a 16 MB body). :func:`cooperative` yields after every chunk.
- Reading a body costs loop time, so readers share a few slots; :func:`gated`
  holds one only while bytes flow, never while waiting on the network.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Many bodies may be ready in the same loop iteration, and each 64 KiB chunk costs
# ~0.15 ms of parsing on the loop: give other tasks a turn after every chunk.
YIELD_EVERY_BYTES = 64 * 1024
# A read that waits longer than this is waiting on the network, not on parsing.
STALL_S = 0.05

_cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redraw-cpu")


async def run_cpu(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run CPU-bound ``function`` on the image thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_cpu, functools.partial(function, *args, **kwargs))


async def cooperative(chunks: AsyncIterator[bytes], every: int = YIELD_EVERY_BYTES) -> AsyncIterator[bytes]:
    """Pass ``chunks`` through, letting the loop run other tasks every ``every`` bytes."""
    since = 0
    async for chunk in chunks:
        yield chunk
        since += len(chunk)
        if since >= every:
            since = 0
            await asyncio.sleep(0)


async def _next(iterator: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return None


async def gated(
    chunks: AsyncIterator[bytes], gate: asyncio.Semaphore, stall: float = STALL_S
) -> AsyncGenerator[bytes, None]:
    """Pass ``chunks`` through holding ``gate`` while they flow. A read that waits longer
    than ``stall`` gives the gate back until bytes come: a body that drips a byte every
    few seconds (a hostile link, a proxy keeping its connection alive) must not keep
    other chats' results waiting for a slot."""
    held = False
    try:
        while True:
            step: asyncio.Task[bytes | None] = asyncio.ensure_future(_next(chunks))
            try:
                if held and not (await asyncio.wait({step}, timeout=stall))[0]:
                    gate.release()
                    held = False
                chunk = await step
            except BaseException:
                step.cancel()
                raise
            if chunk is None:
                return
            if not held:
                await gate.acquire()
                held = True
            yield chunk
    finally:
        if held:
            gate.release()
