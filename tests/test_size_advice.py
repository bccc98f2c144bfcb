"""Hostile sizes get the size message, and every size the bot advises is itself accepted."""

from __future__ import annotations

import math
import random

import pytest

from bot.errors import InputError
from bot.images.catalogue import MAX_RATIO, image_model, nearest_valid_size
from bot.images.validation import check_size, normalize_size
from bot.messages import render_error

GPT2 = image_model("gpt-image-2")
SIZE_KEYS = {
    "size_invalid",
    "size_not_multiple_of_16",
    "size_side_too_long",
    "size_ratio_too_wide",
    "size_too_few_pixels",
    "size_too_many_pixels",
}


def refusal(size: str) -> InputError:
    with pytest.raises(InputError) as caught:
        check_size(size, GPT2)
    assert caught.value.message_key in SIZE_KEYS
    return caught.value


@pytest.mark.parametrize(
    ("size", "key"),
    [
        ("²x²", "size_invalid"),
        ("¹⁰²⁴x¹⁰²⁴", "size_invalid"),
        ("①x②", "size_invalid"),
        ("9" * 5000 + "x1024", "size_side_too_long"),
        ("1024x" + "1" * 5000, "size_side_too_long"),
        ("7" * 3000 + "x" + "3" * 3000, "size_side_too_long"),
        ("1" * 5000, "size_invalid"),
        ("0" * 5000 + "x1024", "size_invalid"),
    ],
)
def test_hostile_sizes_get_the_size_message(size: str, key: str) -> None:
    error = refusal(size)
    assert error.message_key == key
    for locale in ("en", "zh"):
        text = render_error(error, locale)
        # The value is quoted, but cut: the answer fits any chat.
        assert len(text) < 300 and "{" not in text


def test_digits_of_other_scripts_are_digits() -> None:
    assert normalize_size("１５３６ｘ１０２４") == "1536x1024"
    assert normalize_size("١٠٢٤x١٠٢٤") == "1024x1024"
    assert normalize_size("0001024x01024") == "1024x1024"


@pytest.mark.parametrize(
    ("size", "advice"),
    [
        # Squares stay square: 2880x2880 is the largest square under 8,294,400 pixels.
        ("5000x5000", "2880x2880"),
        ("4096x4096", "2880x2880"),
        ("3840x3840", "2880x2880"),
        ("1000x1000", "1008x1008"),
        ("800x800", "816x816"),
        ("3850x2160", "3840x2160"),
        ("4096x2304", "3840x2160"),
        ("2304x4096", "2160x3840"),
        # Wider than 3:1: the widest shape allowed.
        ("10000x100", "1728x576"),
    ],
)
def test_advice_keeps_the_shape(size: str, advice: str) -> None:
    error = refusal(size)
    assert error.params["suggestion"] == advice
    assert advice in render_error(error) and advice in render_error(error, "zh")


def requested_sizes() -> list[tuple[int, int]]:
    """Many sizes, refused ones among them: random ones of every kind, and the edges."""
    rng = random.Random(13)
    sizes = []
    for _ in range(1500):
        width = rng.choice([rng.randint(1, 9000), rng.randint(1, 300) * 16, rng.randint(600, 4200)])
        height = rng.choice(
            [rng.randint(1, 9000), rng.randint(1, 300) * 16, max(1, round(width * rng.uniform(0.25, 4)))]
        )
        sizes.append((width, height))
    edges = [1, 15, 16, 17, 809, 810, 816, 1280, 2880, 2881, 3840, 3841, 3856, 10**6]
    sizes += [(width, height) for width in edges for height in edges]
    sizes += [(10**4000, 7), (7, 10**4000), (3 * 10**50, 10**50)]
    return sizes


def test_every_suggestion_is_itself_accepted_and_of_the_same_shape() -> None:
    advised = 0
    for width, height in requested_sizes():
        try:
            check_size(f"{width}x{height}", GPT2)
        except InputError as error:
            suggestion = error.params["suggestion"]
            advised += 1
        else:
            continue
        assert check_size(suggestion, GPT2) == suggestion, f"{width}x{height} → {suggestion}"
        w, h = map(int, suggestion.split("x"))
        wanted = math.log(width) - math.log(height)
        limit = math.log(MAX_RATIO)
        # The same shape within about 2%, or the nearest shape allowed (3:1) when it was wider.
        assert abs(math.log(w / h) - min(max(wanted, -limit), limit)) < 0.02, f"{width}x{height} → {w}x{h}"
    assert advised > 1000


def test_a_valid_size_advises_itself() -> None:
    for size in ("1024x1024", "3840x2160", "1024x3072", "816x816", "2880x2880"):
        width, height = map(int, size.split("x"))
        assert nearest_valid_size(width, height) == (width, height)
