"""Wrong settings stop ``redraw`` at start with rc 2 and one line naming the variable,
run as real processes."""

from __future__ import annotations

import pytest

from tests.test_cli import REDRAW, run

RUNNABLE = {"TELEGRAM_BOT_TOKEN": "1:abcdefghijk", "OPENAI_API_KEY": "sk-test-0123456789"}


@pytest.mark.parametrize(
    ("prices", "said"),
    [
        ('{"gpt-image-2": {"image_out": NaN}}', "gpt-image-2.image_out must be a finite number ≥ 0"),
        ('{"gpt-image-2": {"text_in": -5}}', "gpt-image-2.text_in must be a finite number ≥ 0"),
        ('{"gpt-image-2-all": {"per_request": "0.03"}}', "gpt-image-2-all.per_request must be a number"),
        ('{"gpt-image-2": {"image_out": 30, "output": 4}}', "unknown fields output"),
    ],
)
async def test_a_bad_price_stops_the_start(prices: str, said: str) -> None:
    for command in ("run", "config"):
        code, out, err = await run(str(REDRAW), command, env={**RUNNABLE, "REDRAW_PRICES": prices})
        assert code == 2, out + err
        [line] = [line for line in err.splitlines() if "REDRAW_PRICES" in line]
        assert line.startswith("REDRAW_PRICES: ") and said in line
