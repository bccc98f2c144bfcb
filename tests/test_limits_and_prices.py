"""The concurrency limiter and the price table."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.engine.limits import Limiter
from bot.images.pricing import TEXT_OVERHEAD_TOKENS, PriceError, PriceTable
from bot.images.types import GeneratedImage, ImageParams, TurnResult, Usage
from tests.helpers import make_request, png


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
    text = TEXT_OVERHEAD_TOKENS * 5 / 1e6  # a call always sends some text
    assert table.estimate("gpt-image-2", high) == pytest.approx(4160 * 30 / 1e6 + text)
    assert table.estimate("gpt-image-2", ImageParams(quality="low", size="2048x2048")) == pytest.approx(
        4 * 272 * 30 / 1e6 + text
    )
    # auto quality counts as high, and auto size as the larger 3:2 shape it may pick
    assert table.estimate("gpt-image-2", ImageParams()) == table.estimate(
        "gpt-image-2", ImageParams(quality="high", size="1536x1024")
    )
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
    assert table.estimate("house-model", ImageParams(quality="low", size="1024x1024")) == pytest.approx(
        272 * 10 / 1e6
    )
    for bad in ("not json", "[1]", '{"gpt-image-2": {"bogus": 1}}'):
        with pytest.raises(PriceError):
            PriceTable.from_json(bad)


@pytest.mark.parametrize(
    "bad",
    [
        '{"gpt-image-2": {"image_out": NaN}}',
        '{"gpt-image-2": {"image_out": Infinity}}',
        '{"gpt-image-2": {"image_in": 1e999}}',
        '{"gpt-image-2": {"text_in": -1}}',
        '{"gpt-image-2-all": {"per_request": "0.03"}}',
        '{"gpt-image-2-all": {"per_request": true}}',
        '{"gpt-image-2": 30}',
    ],
)
def test_a_price_must_be_a_finite_number_not_below_zero(bad: str) -> None:
    with pytest.raises(PriceError) as caught:
        PriceTable.from_json(bad)
    assert "gpt-image-2" in str(caught.value)


def _result(model: str, usage: Usage | None, backend: str = "images") -> TurnResult:
    image = GeneratedImage(b"", "image/png", 1024, 1024, "blob")
    return TurnResult(images=(image,), state={}, backend=backend, model=model, usage=usage)


async def test_the_estimate_covers_the_input_text_and_pictures() -> None:
    table = PriceTable()
    prompt = "keep the faces, make it a watercolour " * 100
    photos = [png("red", (1536, 1024)), png("blue", (1024, 1536)), png("green", (1536, 512))]
    request = await make_request(
        prompt, model="gpt-image-1", images=photos, quality="low", size="1024x1024", input_fidelity="high"
    )
    quote = table.quote("gpt-image-1", request, parent_images=1)
    # What the provider bills for this edit: the prompt (about 4 characters a token), each
    # picture's 512-px tiles plus the high-fidelity allowance (the parent's is 3:1 at most), the output.
    pictures = 2 * (65 + 129 * 2 + 6240) + 2 * (65 + 129 * 3 + 6240)
    usage = Usage(input_tokens=len(prompt) // 4 + pictures, output_tokens=272, input_image_tokens=pictures)
    charged = quote.charge([_result("gpt-image-1", usage)])
    assert 0 < charged <= quote.usd
    # The input is most of that bill: the output alone would have reserved far too little.
    assert table.estimate("gpt-image-1", request.params) < charged / 10


async def test_an_unreported_charge_is_the_estimate_inputs_included() -> None:
    table = PriceTable()
    request = await make_request("restyle", images=[png("red", (1024, 1024))], size="1024x1024")
    quote = table.quote("gpt-image-2", request, copies=2)
    results = [_result("gpt-image-2", None, backend="responses")] * 2
    assert quote.charge(results) == pytest.approx(quote.usd)
    assert quote.usd > 2 * table.estimate("gpt-image-2", request.params)


async def test_a_charge_above_the_estimate_is_logged_with_both_figures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = PriceTable()
    quote = table.quote("gpt-image-2", await make_request("a fox", quality="low", size="1024x1024"))
    billed_high = Usage(input_tokens=50, output_tokens=4160, total_tokens=4210)
    with caplog.at_level(logging.WARNING, logger="bot.images.pricing"):
        charged = quote.charge([_result("gpt-image-2", billed_high)])
    assert charged == pytest.approx((50 * 5 + 4160 * 30) / 1e6)  # charged as billed, not capped
    [record] = caplog.records
    assert f"${charged:.6f}" in record.getMessage() and f"${quote.usd:.6f}" in record.getMessage()

    caplog.clear()
    within = Usage(input_tokens=5, output_tokens=272, total_tokens=277)
    with caplog.at_level(logging.WARNING, logger="bot.images.pricing"):
        quote.charge([_result("gpt-image-2", within)])
    assert caplog.records == []
