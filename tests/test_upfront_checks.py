"""What is refused before anything is downloaded: the prompt (invisible ones are empty)."""

from __future__ import annotations

import pytest

from bot.errors import InputError
from bot.validation import check_prompt, is_blank, visible


@pytest.mark.parametrize(
    "text",
    [
        "\u200b",
        "\u200c\u200d",
        "\u2060\ufeff",
        "\ufe0f\ufe0e",
        "\U000e0100",
        " \u200b\n\t\u00a0\u3000",
        "\u3164\u115f\u2800",
        "\u202e\u2066\u00ad",
        "\U000e0041\U000e007f",
    ],
)
def test_invisible_prompts_are_empty(text: str) -> None:
    assert is_blank(text) and visible(text) == ""
    with pytest.raises(InputError) as caught:
        check_prompt(text)
    assert caught.value.message_key == "prompt_empty"


@pytest.mark.parametrize("text", ["a", "❤️", "👨\u200d👩\u200d👧", "\u200ba cat\u200b", "猫", "1"])
def test_visible_prompts_are_kept_as_written(text: str) -> None:
    assert not is_blank(text) and visible(text) == text
    assert check_prompt(text) == text.strip()
