"""Structured logs: JSON lines with the turn and the provider's request id, and no
API key or bot token in them, whatever fails."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import logs
from bot.app.config import load_settings
from bot.telemetry.context import current_turn
from tests.conftest import TEST_API_KEY
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import TOKEN, FakeTelegram
from tests.telegram.conftest import ADAPTER_OPTIONS, ALICE, PRIVATE, TelegramWorld, settings_for


@pytest.fixture(autouse=True)
def _our_handler_removed() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    root.handlers[:] = [h for h in root.handlers if not isinstance(h.formatter, logs.OUR_FORMATTERS)]
    root.setLevel(level)


def test_a_json_line_carries_the_turn_and_the_request_id_and_hides_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = load_settings(openai_api_key=TEST_API_KEY, redraw_log_format="json")
    logs.configure(settings, verbose=True, quiet_default=False)
    token = current_turn.set(42)
    try:
        logging.getLogger("redraw.test").warning(
            "the provider said: bad key %s", TEST_API_KEY, extra={"request_id": "req_1"}
        )
    finally:
        current_turn.reset(token)
    logging.getLogger("redraw.test").info("outside any turn")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["turn_id"] == 42 and first["request_id"] == "req_1" and first["level"] == "WARNING"
    assert first["message"] == "the provider said: bad key [secret]" and first["logger"] == "redraw.test"
    assert second["turn_id"] is None and second["message"] == "outside any turn"


def test_a_text_line_names_the_turn(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(load_settings(), verbose=True, quiet_default=False)
    token = current_turn.set(7)
    try:
        logging.getLogger("redraw.test").info("drawn", extra={"request_id": "req_9"})
    finally:
        current_turn.reset(token)
    assert capsys.readouterr().err.rstrip().endswith("redraw.test: drawn [turn_id=7 request_id=req_9]")


async def test_no_key_or_token_reaches_the_logs_even_when_everything_fails(
    tg: FakeTelegram, fake: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tg, fake, tmp_path / "data", redraw_log_format="json")
    logs.configure(settings, verbose=True, quiet_default=False)
    world = TelegramWorld(
        tg=tg,
        openai=fake,
        settings=settings,
        platforms=("telegram",),
        adapter_options={"telegram": ADAPTER_OPTIONS},
    )
    try:
        await world.start()
        # The provider refuses the key and echoes it whole, as careless proxies do.
        fake.fail("auth")
        tg.send(PRIVATE, ALICE, "a red kite")
        await tg.wait_text(PRIVATE, "API key")
        # Telegram fails a call with the token in its answer; the engine logs the traceback.
        tg.fail_next("sendPhoto", 403, f"Forbidden: no such bot{TOKEN}")
        tg.send(PRIVATE, ALICE, "a blue kite")
        await tg.wait_text(PRIVATE, "couldn't send it here")
        # A drawing that works, for the request id on the turn's lines.
        tg.send(PRIVATE, ALICE, "a green kite")
        await tg.wait_photo(PRIVATE)
        await tg.settle()
    finally:
        await world.stop_all()
    output = capsys.readouterr().err
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    # In any letter case: a library may change it (python-telegram-bot capitalizes errors).
    assert TOKEN.lower() not in output.lower() and TEST_API_KEY.lower() not in output.lower()
    # The secrets were there to hide: the error paths did run and were logged.
    assert "[secret]" in output
    assert any(record["level"] in ("ERROR", "WARNING") for record in records)
    turn_lines = [record for record in records if record.get("turn_id") is not None]
    assert any(record.get("request_id") for record in turn_lines)
    assert {record.get("status") for record in turn_lines} >= {"failed", "done"}
