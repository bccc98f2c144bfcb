"""The concurrency limiter and the price table."""

from __future__ import annotations

import asyncio

import pytest

from bot.engine.limits import Limiter
from bot.pricing import PriceError, PriceTable
from bot.types import ImageParams, Usage


async def test_limits_per_user_chat_and_overall_with_places() -> None:
    limiter = Limiter(per_user=1, per_chat=2, overall=3)
    places: list[int] = []
    order: list[str] = []
    release = asyncio.Event()

    async def run(name: str, user: str, chat: str) -> None:
        async def told(place: int) -> None:
            places.append(place)

        async with limiter.slot(user, chat, told):
            order.append(name)
            await release.wait()

    tasks = [
        asyncio.create_task(run("a1", "a", "x")),
        asyncio.create_task(run("a2", "a", "x")),  # a is busy
        asyncio.create_task(run("b1", "b", "x")),  # chat x has room for b
        asyncio.create_task(run("c1", "c", "x")),  # chat x is full
        asyncio.create_task(run("d1", "d", "y")),  # overall: 3rd slot
    ]
    await asyncio.sleep(0.01)
    assert order == ["a1", "b1", "d1"] and limiter.in_flight == 3 and limiter.waiting == 2
    assert places == [1, 2]
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(order) == ["a1", "a2", "b1", "c1", "d1"] and limiter.in_flight == 0


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    limiter = Limiter(per_user=1, per_chat=1, overall=1)
    release = asyncio.Event()

    async def hold() -> None:
        async with limiter.slot("a", "x"):
            await release.wait()

    async def wait_in_line() -> None:
        async with limiter.slot("b", "x"):
            pass

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(wait_in_line())
    await asyncio.sleep(0.01)
    assert limiter.waiting == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.waiting == 0
    release.set()
    await holder
    assert limiter.in_flight == 0


def test_prices() -> None:
    table = PriceTable()
    high = ImageParams(quality="high", size="1024x1024")
    assert table.estimate("gpt-image-2", high) == pytest.approx(4160 * 30 / 1e6)
    assert table.estimate("gpt-image-2", ImageParams(quality="low", size="2048x2048")) == pytest.approx(
        4 * 272 * 30 / 1e6
    )
    assert table.estimate("gpt-image-2", ImageParams()) == table.estimate(
        "gpt-image-2", high
    )  # auto counts as high
    assert table.estimate("gpt-image-2-all", ImageParams(quality="high", size="3840x2160")) == 0.03
    assert table.estimate("gpt-image-2-2026-04-21", high) == table.estimate("gpt-image-2", high)
    usage = Usage(input_tokens=1050, output_tokens=4160, total_tokens=5210, input_image_tokens=1000)
    charged = table.charge("gpt-image-2", high, 1, usage, reported=True)
    assert charged == pytest.approx((50 * 5 + 1000 * 8 + 4160 * 30) / 1e6)
    assert table.charge("gpt-image-2", high, 1, usage, reported=False) == table.estimate("gpt-image-2", high)


def test_price_overrides() -> None:
    table = PriceTable.from_json(
        '{"gpt-image-2-all": {"per_request": 0.05}, "house-model": {"image_out": 10}}'
    )
    assert table.estimate("gpt-image-2-all", ImageParams()) == 0.05
    assert table.estimate("house-model", ImageParams(quality="low")) == pytest.approx(272 * 10 / 1e6)
    for bad in ("not json", "[1]", '{"gpt-image-2": {"bogus": 1}}'):
        with pytest.raises(PriceError):
            PriceTable.from_json(bad)
