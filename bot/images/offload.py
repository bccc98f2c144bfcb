"""Keeping the event loop free, and memory bounded, while handling multi-megabyte images.

- A small pool, sized to the cores, runs CPU work (base64, JSON, Pillow). The heavy
  parts (Pillow's codecs, pybase64, hashing) release the GIL, so a few threads barely
  compete with the loop; one thread let a single 64 MP decode stall every chat.
- Decoding holds memory in proportion to pixels (~8 bytes each while converting).
  Functions marked :func:`weighed` take their share of :data:`DECODE_BUDGET`
  (read from the header) before they start, so concurrent decodes stay bounded,
  and heavy ones (uploads past any provider output's size) leave one thread free.
  Waiting for either happens on the loop, never on a pool thread.
- A user may have only :data:`MAX_QUEUED_PER_USER` requests in image preparation.
- Eager reads: when a large body already sits in the socket buffer, httpx hands
  over chunk after chunk without the loop ever getting a turn (~80 ms for a 16 MB
  body). :func:`cooperative` yields after every chunk.
- Reading a body costs loop time, so readers share a few slots; :func:`gated`
  holds one only while bytes flow, never while waiting on the network.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections import Counter, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Many bodies may be ready in the same loop iteration, and each 64 KiB chunk costs
# ~0.15 ms of parsing on the loop: give other tasks a turn after every chunk.
YIELD_EVERY_BYTES = 64 * 1024
# A read that waits longer than this is waiting on the network, not on parsing.
STALL_S = 0.05


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


# At least two, so one huge decode never holds up every other chat's small work;
# at most four, so GIL-holding work (JSON) still leaves the loop its turns.
POOL_WORKERS = max(2, min(4, _cores()))
_cpu = ThreadPoolExecutor(max_workers=POOL_WORKERS, thread_name_prefix="redraw-cpu")

# The most pixels a provider's picture may have (imaging.MAX_OUTPUT_PIXELS): only
# uploads are heavier.
HEAVY_PIXELS = 4096 * 4096
# One largest upload (imaging.MAX_INPUT_PIXELS) and one largest provider output at
# once: ~650 MB at the peak of a conversion, whatever the number of chats.
DECODE_BUDGET_PIXELS = 64_000_000 + HEAVY_PIXELS
# A waiter passed over this often by smaller work stops further overtaking.
MAX_OVERTAKES = 8
MAX_QUEUED_PER_USER = 4

_WEIGHT = "__redraw_pixels__"


@dataclass
class _Waiter:
    weight: int
    future: asyncio.Future[None]
    overtaken: int = 0


class PixelBudget:
    """A semaphore weighted by pixels. A waiter that does not fit yet lets smaller
    work that fits go first (a preview need not wait behind a 64 MP upload), but only
    :data:`MAX_OVERTAKES` times, so big work is never starved."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        # The most held at once: what the tests read.
        self.peak = 0
        self._waiters: deque[_Waiter] = deque()

    @asynccontextmanager
    async def hold(self, pixels: int) -> AsyncIterator[None]:
        weight = max(0, min(pixels, self.capacity))
        if not weight:
            yield  # nothing to hold: never waits, never counts as passing anyone
            return
        await self._acquire(weight)
        try:
            yield
        finally:
            self._release(weight)

    async def _acquire(self, weight: int) -> None:
        waiter = _Waiter(weight, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        self._wake()
        if waiter.future.done():
            return  # it fitted at once
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self._release(weight)  # admitted just as it was cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
                self._wake()
            raise

    def _take(self, weight: int) -> None:
        self.held += weight
        self.peak = max(self.peak, self.held)

    def _release(self, weight: int) -> None:
        self.held -= weight
        self._wake()

    def _wake(self) -> None:
        passed: list[_Waiter] = []
        for waiter in list(self._waiters):
            if waiter.future.done():  # cancelled while waiting: its task removes it
                continue
            if waiter.future.get_loop().is_closed():  # left behind by a loop that ended
                self._waiters.remove(waiter)
                continue
            if self.held + waiter.weight <= self.capacity:
                self._waiters.remove(waiter)
                self._take(waiter.weight)
                waiter.future.set_result(None)
                for earlier in passed:
                    earlier.overtaken += 1
            elif waiter.overtaken >= MAX_OVERTAKES:
                return  # its turn next: nothing may pass it any more
            else:
                passed.append(waiter)


DECODE_BUDGET = PixelBudget(DECODE_BUDGET_PIXELS)
# Heavy decodes take at most all but one thread: the last one stays free for every
# other chat's small work (JSON, checks, previews), however many uploads queue up.
HEAVY_LANES = PixelBudget(max(1, POOL_WORKERS - 1))


def weighed(pixels: Callable[..., int]) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Mark a function that decodes: ``pixels(*args, **kwargs)`` reads from the header
    how many pixels it will hold, and :func:`run_cpu` reserves them first."""

    def mark(function: Callable[P, T]) -> Callable[P, T]:
        setattr(function, _WEIGHT, pixels)
        return function

    return mark


async def run_cpu(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run CPU-bound ``function`` on the pool; a :func:`weighed` one within the decode budget."""
    loop = asyncio.get_running_loop()
    call = functools.partial(function, *args, **kwargs)
    pixels: Callable[..., int] | None = getattr(function, _WEIGHT, None)
    if pixels is None:
        return await loop.run_in_executor(_cpu, call)
    # The header is read on the pool too: a hostile file can make even that slow.
    weight = await loop.run_in_executor(_cpu, functools.partial(pixels, *args, **kwargs))
    # A lane first, then memory: work waiting for a thread holds no share of the budget.
    async with HEAVY_LANES.hold(1 if weight > HEAVY_PIXELS else 0), DECODE_BUDGET.hold(weight):
        return await loop.run_in_executor(_cpu, call)


class QueueFull(Exception):
    """A user already has :data:`MAX_QUEUED_PER_USER` requests in image preparation."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"{limit} requests already in image preparation")


_queued: Counter[str] = Counter()


@asynccontextmanager
async def user_queue(owner: str | None, limit: int = MAX_QUEUED_PER_USER) -> AsyncIterator[None]:
    """Count one request's image work against ``owner``; refuse beyond ``limit``, so one
    user's uploads cannot fill the decode queue for everyone."""
    if owner is None:
        yield
        return
    if _queued[owner] >= limit:
        raise QueueFull(limit)
    _queued[owner] += 1
    try:
        yield
    finally:
        _queued[owner] -= 1
        if not _queued[owner]:
            del _queued[owner]


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
