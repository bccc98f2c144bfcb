"""What a turn costs, in USD.

The provider bills gpt-image models by tokens: text and image input, and image
output. When a call reports its usage, the charge is computed from it. Before
a call (for the budget check), and for calls that don't report image usage
(the responses backend reports only its mainline model), the estimate is an
upper bound of the same three: the image output tokens for the quality and size,
the prompt's text tokens, and the input pictures' tokens. The estimate is held
against the budgets while the call runs, so it errs high; a charge above it is
logged with both figures. Proxy models (gpt-image-2-all, -vip) cost a flat
amount per request.

Operators can override any model with ``REDRAW_PRICES`` (JSON), e.g.
``{"gpt-image-2": {"image_out": 30, "image_in": 8, "text_in": 5}, "my-proxy-model": {"per_request": 0.02}}``.
Every price is a finite number ≥ 0 (USD per million tokens, or per request).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from bot.images.catalogue import image_model, parse_size
from bot.images.types import ImageParams, ImageRequest, TurnResult, Usage

log = logging.getLogger(__name__)

# Image output tokens for a 1024x1024 image by quality (provider docs for the GPT
# image models); other sizes scale with their pixel count.
OUTPUT_TOKENS_1024 = {"low": 272, "medium": 1056, "high": 4160}
# "auto" may pick high: estimate it as high, so a budget is never overrun by surprise.
AUTO_QUALITY = "high"
# "auto" size may pick a 3:2 shape: estimate it as the larger of those, for the same reason.
AUTO_SIZE = (1536, 1024)
# Input pictures (provider docs for GPT image inputs): scaled so the shorter side is 512 px,
# then billed per 512-px tile plus a base; high input fidelity adds up to 6,240 tokens each.
# Models that take no input_fidelity setting (gpt-image-2) are counted as high: they keep
# inputs at full detail, and an estimate must not come in under the bill.
IMAGE_BASE_TOKENS = 65
IMAGE_TILE_TOKENS = 129
HIGH_FIDELITY_TOKENS = 6240
# A picture whose size isn't known here (a parent's output) is counted at the widest shape, 3:1.
UNKNOWN_IMAGE_SIZE = (1536, 512)
# A token is at least one byte of UTF-8, so the prompt's bytes bound its tokens; the rest
# is room for what a backend wraps around it.
TEXT_OVERHEAD_TOKENS = 64
# Rounding noise, not an overrun.
CHARGE_SLACK_USD = 1e-9


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


PRICE_FIELDS = tuple(f.name for f in fields(Price))


class PriceError(ValueError):
    """A bad price override; the message names the model and the field (not the variable)."""


def _checked(model: str, name: str, value: Any) -> float | None:
    if name == "per_request" and value is None:
        return None
    # bool is an int to Python, and "0.03" a string that would fail every turn later.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PriceError(f"{model}.{name} must be a number (got {value!r})")
    if not math.isfinite(value) or value < 0:
        raise PriceError(f"{model}.{name} must be a finite number ≥ 0 (got {value!r})")
    return float(value)


@dataclass(frozen=True)
class Inputs:
    """What one call sends besides its parameters, billed as input tokens."""

    text_bytes: int = 0
    # Each input picture's (width, height); None when unknown here (a parent's output).
    images: tuple[tuple[int, int] | None, ...] = ()

    @classmethod
    def of(cls, request: ImageRequest, parent_images: int = 0) -> Inputs:
        sizes: list[tuple[int, int] | None] = [(image.width, image.height) for image in request.images]
        if request.mask is not None:
            sizes.append((request.mask.width, request.mask.height))
        return cls(len(request.prompt.encode()), (*sizes, *([None] * parent_images)))


class PriceTable:
    def __init__(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.prices = dict(DEFAULT_PRICES)
        for model, values in (overrides or {}).items():
            if not isinstance(values, Mapping):
                raise PriceError(f'{model} needs an object of prices, e.g. {{"image_out": 30}}')
            unknown = sorted(set(values) - set(PRICE_FIELDS))
            if unknown:
                known = ", ".join(PRICE_FIELDS)
                raise PriceError(f"{model}: unknown fields {', '.join(unknown)}; use {known}")
            checked: dict[str, Any] = {name: _checked(model, name, value) for name, value in values.items()}
            self.prices[model] = replace(self.prices.get(model, Price()), **checked)

    @classmethod
    def from_json(cls, text: str | None) -> PriceTable:
        if not text:
            return cls()
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise PriceError(f"is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise PriceError("must be a JSON object of model → prices")
        return cls(document)

    def price(self, model: str) -> Price:
        if model in self.prices:
            return self.prices[model]
        # Snapshots and aliases follow their family (longest matching prefix).
        family = max((name for name in self.prices if model.startswith(name)), key=len, default=None)
        return self.prices[family] if family else self.prices["gpt-image-2"]

    def estimate(
        self, model: str, params: ImageParams, images: int = 1, inputs: Inputs | None = None, calls: int = 1
    ) -> float:
        """At most what ``calls`` calls drawing ``images`` pictures in all will cost, each
        call sending ``inputs``."""
        price = self.price(model)
        if price.per_request is not None:
            return price.per_request * images
        inputs = inputs or Inputs()
        high_fidelity = params.input_fidelity == "high" or not image_model(model).input_fidelity
        image_tokens = sum(_input_image_tokens(size, high_fidelity) for size in inputs.images)
        text_tokens = inputs.text_bytes + TEXT_OVERHEAD_TOKENS
        per_call = text_tokens * price.text_in + image_tokens * price.image_in
        return (images * _output_tokens(params) * price.image_out + calls * per_call) / 1e6

    def quote(self, model: str, request: ImageRequest, *, copies: int = 1, parent_images: int = 0) -> Quote:
        """What a turn of ``copies`` parallel calls (variations) may cost, and how it is charged."""
        inputs = Inputs.of(request, parent_images)
        return Quote(self, model, request.params, inputs, request.params.n * copies, copies)

    def charge(
        self,
        model: str,
        params: ImageParams,
        images: int,
        usage: Usage | None,
        reported: bool,
        *,
        inputs: Inputs | None = None,
    ) -> float:
        """The cost of a finished call. ``reported``: ``usage`` describes the image model."""
        price = self.price(model)
        if price.per_request is not None:
            return price.per_request
        if usage is None or not reported:
            return self.estimate(model, params, images, inputs)
        text_tokens = max(usage.input_tokens - usage.input_image_tokens, 0)
        return (
            text_tokens * price.text_in
            + usage.input_image_tokens * price.image_in
            + usage.output_tokens * price.image_out
        ) / 1e6


@dataclass(frozen=True)
class Quote:
    """A turn's estimate, held against the budgets while it runs, and the charge for its results."""

    table: PriceTable
    model: str
    params: ImageParams
    inputs: Inputs
    images: int
    calls: int
    usd: float = field(init=False)

    def __post_init__(self) -> None:
        estimate = self.table.estimate(self.model, self.params, self.images, self.inputs, self.calls)
        object.__setattr__(self, "usd", estimate)

    def charge(self, results: Sequence[TurnResult]) -> float:
        """What the results cost; a charge above the estimate is logged with both figures
        (the budgets held too little while it ran, so the price table needs a look)."""
        cost = sum(
            self.table.charge(
                result.model,
                self.params,
                len(result.images),
                result.usage,
                # Only the images API reports the image model's own tokens.
                reported=result.backend == "images",
                inputs=self.inputs,
            )
            for result in results
        )
        if cost > self.usd + CHARGE_SLACK_USD:
            log.warning(
                "charged $%.6f, more than the $%.6f estimated and reserved for it (model %s); "
                "check the prices (REDRAW_PRICES)",
                cost,
                self.usd,
                ", ".join(sorted({result.model for result in results})) or self.model,
            )
        return cost


def _output_tokens(params: ImageParams) -> float:
    quality = params.quality if params.quality in OUTPUT_TOKENS_1024 else AUTO_QUALITY
    dims = parse_size(params.size) or AUTO_SIZE
    return OUTPUT_TOKENS_1024[quality] * dims[0] * dims[1] / (1024 * 1024)


def _input_image_tokens(size: tuple[int, int] | None, high_fidelity: bool) -> int:
    width, height = size or UNKNOWN_IMAGE_SIZE
    scale = 512 / max(min(width, height), 1)
    tiles = math.ceil(width * scale / 512) * math.ceil(height * scale / 512)
    return IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * tiles + (HIGH_FIDELITY_TOKENS if high_fidelity else 0)
