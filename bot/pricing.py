"""What a turn costs, in USD.

The provider bills gpt-image models by tokens: text and image input, and image
output. When a call reports its usage, the charge is computed from it. Before
a call (for the budget check), and for calls that don't report image usage
(the responses backend reports only its mainline model), the estimate is the
image output tokens for the quality and size, priced at the model's output rate.
Proxy models (gpt-image-2-all, -vip) cost a flat amount per request.

Operators can override any model with ``REDRAW_PRICES`` (JSON), e.g.
``{"gpt-image-2": {"image_out": 30, "image_in": 8, "text_in": 5}, "my-proxy-model": {"per_request": 0.02}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.models import parse_size
from bot.types import ImageParams, Usage

# Image output tokens for a 1024x1024 image by quality (provider docs for the GPT
# image models); other sizes scale with their pixel count.
OUTPUT_TOKENS_1024 = {"low": 272, "medium": 1056, "high": 4160}
# "auto" may pick high: estimate it as high, so a budget is never overrun by surprise.
AUTO_QUALITY = "high"


@dataclass(frozen=True)
class Price:
    """USD per million tokens, or a flat price per request (proxy models)."""

    text_in: float = 0.0
    image_in: float = 0.0
    image_out: float = 0.0
    per_request: float | None = None


DEFAULT_PRICES: Mapping[str, Price] = {
    "gpt-image-2": Price(text_in=5.0, image_in=8.0, image_out=30.0),
    "gpt-image-1.5": Price(text_in=5.0, image_in=8.0, image_out=32.0),
    "gpt-image-1": Price(text_in=5.0, image_in=10.0, image_out=40.0),
    "gpt-image-1-mini": Price(text_in=2.0, image_in=2.5, image_out=8.0),
    "gpt-image-2-all": Price(per_request=0.03),
    "gpt-image-2-vip": Price(per_request=0.03),
}


class PriceError(ValueError):
    pass


class PriceTable:
    def __init__(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.prices = dict(DEFAULT_PRICES)
        for model, fields in (overrides or {}).items():
            try:
                self.prices[model] = replace(self.prices.get(model, Price()), **fields)
            except TypeError as exc:
                raise PriceError(f"REDRAW_PRICES: bad fields for {model}: {exc}") from None

    @classmethod
    def from_json(cls, text: str | None) -> PriceTable:
        if not text:
            return cls()
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise PriceError(f"REDRAW_PRICES is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise PriceError("REDRAW_PRICES must be a JSON object of model → prices")
        return cls(document)

    def price(self, model: str) -> Price:
        if model in self.prices:
            return self.prices[model]
        # Snapshots and aliases follow their family (longest matching prefix).
        family = max((name for name in self.prices if model.startswith(name)), key=len, default=None)
        return self.prices[family] if family else self.prices["gpt-image-2"]

    def estimate(self, model: str, params: ImageParams, images: int = 1) -> float:
        """The expected cost of a call, before making it."""
        price = self.price(model)
        if price.per_request is not None:
            return price.per_request * images
        return images * _output_tokens(params) * price.image_out / 1e6

    def charge(
        self, model: str, params: ImageParams, images: int, usage: Usage | None, reported: bool
    ) -> float:
        """The cost of a finished call. ``reported``: ``usage`` describes the image model."""
        price = self.price(model)
        if price.per_request is not None:
            return price.per_request
        if usage is None or not reported:
            return self.estimate(model, params, images)
        text_tokens = max(usage.input_tokens - usage.input_image_tokens, 0)
        return (
            text_tokens * price.text_in
            + usage.input_image_tokens * price.image_in
            + usage.output_tokens * price.image_out
        ) / 1e6


def _output_tokens(params: ImageParams) -> float:
    quality = params.quality if params.quality in OUTPUT_TOKENS_1024 else AUTO_QUALITY
    dims = parse_size(params.size) or (1024, 1024)
    return OUTPUT_TOKENS_1024[quality] * dims[0] * dims[1] / (1024 * 1024)
