"""Restarts, shutdown, big results, previews, webhook mode and Telegram's own rate limits."""

from __future__ import annotations

import asyncio
import io
import signal
import sys
from pathlib import Path

from PIL import Image

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import TOKEN, FakeTelegram
from tests.helpers import colour_name, free_port, png
from tests.telegram.conftest import ALICE, PRIVATE, TelegramWorld
from tests.telegram.process import process_env


async def test_a_crash_mid_job_is_told_on_restart_with_a_working_retry(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    first = await idle_world.start()
    fake.fail("slow", delay=30)
    tg.send(PRIVATE, ALICE, "a red lighthouse")
    await tg.wait_text(PRIVATE, "Drawing")
    await tg.wait_for(idle_world.provider_calls, what="the provider call")
    # The process dies: it takes no more updates and never finishes the turn.
    await idle_world.crash(first)

    # The next start sees the dead process let its lock go, and takes the turn over at once.
    await idle_world.start()
    notice = await tg.wait_text(PRIVATE, "The bot restarted while drawing “a red lighthouse”")
    assert tg.buttons(notice) == ["🔄 Retry"]
    tg.press(notice, "🔄", ALICE)
    photo = await tg.wait_photo(PRIVATE)
    assert colour_name(tg.photo_bytes(photo)) == "red"


async def test_sigterm_interrupts_cleanly_and_retry_works_after_the_restart(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    runtime = await idle_world.start()
    fake.fail("slow", delay=30)
    prompt = tg.send(PRIVATE, ALICE, "a blue tram")
    progress = await tg.wait_text(PRIVATE, "Drawing")
    await tg.wait_for(idle_world.provider_calls, what="the provider call")
    await idle_world.stop(runtime, grace_s=0.2)

    notice = await tg.wait_text(PRIVATE, "The bot is restarting and stopped drawing “a blue tram”")
    assert notice["reply_to_message"]["message_id"] == prompt["message_id"]
    # The status message became the notice: nothing left saying "Drawing".
    assert notice["message_id"] == progress["message_id"]
    await idle_world.start()
    await tg.settle()
    # The turn was closed at shutdown: the restart has nothing more to say about it.
    assert [m for m in tg.bot_messages(PRIVATE) if "restarted while drawing" in m.get("text", "")] == []
    tg.press(notice, "🔄", ALICE)
    photo = await tg.wait_photo(PRIVATE)
    assert colour_name(tg.photo_bytes(photo)) == "blue"


async def test_sigterm_lets_a_turn_finish_within_the_grace_period(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    runtime = await idle_world.start()
    fake.fail("slow", delay=0.5)
    tg.send(PRIVATE, ALICE, "a green bus")
    await tg.wait_for(idle_world.provider_calls, what="the provider call")
    await idle_world.stop(runtime, grace_s=10)
    photo = await tg.wait_photo(PRIVATE, within=1)
    assert colour_name(tg.photo_bytes(photo)) == "green"


async def test_buttons_work_after_a_restart(idle_world: TelegramWorld, tg: FakeTelegram) -> None:
    runtime = await idle_world.start()
    tg.send(PRIVATE, ALICE, "a yellow duck")
    photo = await tg.wait_photo(PRIVATE)
    await idle_world.stop(runtime)
    await idle_world.start()
    tg.press(photo, "🔁", ALICE)
    again = await tg.wait_photo(PRIVATE, after=photo["message_id"])
    assert colour_name(tg.photo_bytes(again)) == "yellow"


async def test_a_4k_result_comes_as_a_preview_with_the_original_a_button_away(
    world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    fake.texture = True  # noisy pixels: a 4K PNG of about 13 MB, over the 10 MB photo limit
    tg.send(PRIVATE, ALICE, "/settings size 3840x2160")
    await tg.wait_text(PRIVATE, "size 3840x2160")
    tg.send(PRIVATE, ALICE, "a red mountain at dawn")
    photo = await tg.wait_photo(PRIVATE, within=30)
    preview = tg.photo_bytes(photo)
    assert preview[:3] == b"\xff\xd8\xff" and len(preview) < 10 * 2**20
    with Image.open(io.BytesIO(preview)) as shown:
        assert max(shown.size) == 2560
    tg.press(photo, "📎", ALICE)
    document = await tg.wait_message(PRIVATE, lambda m: "document" in m, within=30, what="the original")
    original = tg.file_bytes(document["document"]["file_id"])
    assert original[:4] == b"\x89PNG" and len(original) > 10 * 2**20
    with Image.open(io.BytesIO(original)) as full:
        assert full.size == (3840, 2160)
    assert colour_name(original) == "red"


async def test_partial_previews_show_in_the_progress_message(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    await idle_world.start(status_after_s=0, redraw_partial_images=2)
    # A provider that draws for a while after each preview: a preview whose picture came at
    # once would rightly give way to the picture (results first).
    fake.partial_gap = 0.5
    tg.send(PRIVATE, ALICE, "a purple flower")
    photo = await tg.wait_message(PRIVATE, lambda m: "💲" in m.get("caption", ""), what="the picture")
    await tg.settle()
    media = tg.sent("editMessageMedia", PRIVATE) + tg.sent("sendPhoto", PRIVATE)
    previews = [call for call in media if "Drawing" in str(call.params)]
    assert previews, "no partial preview was shown"
    # Previews are small JPEGs; the status message (text, then a preview) became the picture.
    assert all(next(iter(call.files.values())).data[:3] == b"\xff\xd8\xff" for call in previews)
    assert [m["message_id"] for m in tg.bot_messages(PRIVATE)] == [photo["message_id"]]
    assert tg.sent("deleteMessage") == [] and len(tg.sent("sendMessage", PRIVATE)) <= 1


async def test_telegram_flood_limits_are_waited_out(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.fail_next("sendPhoto", 429, "Too Many Requests: retry after 1", retry_after=1)
    tg.send(PRIVATE, ALICE, "a blue lake")
    photo = await tg.wait_photo(PRIVATE)
    assert colour_name(tg.photo_bytes(photo)) == "blue"
    assert len(tg.sent("sendPhoto", PRIVATE)) == 2


async def test_webhook_mode(idle_world: TelegramWorld, tg: FakeTelegram) -> None:
    port = free_port()
    await idle_world.start(
        redraw_webhook_url=f"http://127.0.0.1:{port}/telegram/hook",
        redraw_webhook_listen="127.0.0.1",
        redraw_webhook_port=port,
    )
    assert tg.webhook is not None and tg.webhook["url"].endswith("/telegram/hook")
    secret = tg.webhook["secret_token"]
    assert secret and TOKEN not in secret

    message = tg.send(PRIVATE, ALICE, "a green parrot", deliver=False)
    assert await tg.post_to_webhook({"update_id": 1, "message": message}, secret="wrong") == 403
    assert await tg.post_to_webhook({"update_id": 1, "message": message}) == 200
    photo = await tg.wait_photo(PRIVATE)
    assert colour_name(tg.photo_bytes(photo)) == "green"
    # Telegram redelivers when unsure: the same update draws once.
    assert await tg.post_to_webhook({"update_id": 1, "message": message}) == 200
    await tg.settle()
    assert len(idle_world.provider_calls()) == 1


async def test_redraw_run_stops_cleanly_on_sigterm(
    tg: FakeTelegram, fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The real command in its own process: it draws, and SIGTERM interrupts a long drawing with Retry."""
    env = process_env(tg, fake, tmp_path, REDRAW_PARTIAL_IMAGES="0", REDRAW_SHUTDOWN_GRACE_S="0.5")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    try:
        tg.send(PRIVATE, ALICE, "a red boat")
        photo = await tg.wait_photo(PRIVATE, within=30)
        assert colour_name(tg.photo_bytes(photo)) == "red"
        fake.fail("slow", delay=30)
        tg.send(PRIVATE, ALICE, "a slow green boat")
        await tg.wait_for(lambda: len(fake.requests) == 2, what="the second provider call")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        notice = await tg.wait_text(PRIVATE, "stopped drawing “a slow green boat”", within=1)
        assert tg.buttons(notice) == ["🔄 Retry"]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    log = (await process.stderr.read()).decode()
    assert "logged in as @redraw_test_bot" in log
    assert TOKEN not in log and "sk-test" not in log


async def test_an_album_being_collected_at_shutdown_is_not_lost(
    idle_world: TelegramWorld, tg: FakeTelegram
) -> None:
    runtime = await idle_world.start(adapter={"album_window_s": 60})
    album = tg.send_album(PRIVATE, ALICE, [png("blue"), png("green")], "blend these into one red picture")
    last_update = tg.last_update_id
    await tg.wait_for(lambda: tg.fetched(last_update), what="the album to be fetched")
    await idle_world.stop(runtime, grace_s=10)
    photo = await tg.wait_photo(PRIVATE, within=1)
    assert photo["reply_to_message"]["message_id"] == album[0]["message_id"]
    assert colour_name(tg.photo_bytes(photo)) == "red"
    assert len(idle_world.provider_calls()[0].input_images()) == 2


async def test_redraw_run_with_a_wrong_token_says_so(
    tg: FakeTelegram, fake: FakeOpenAI, tmp_path: Path
) -> None:
    wrong = "7000001:AAE-this-is-not-the-token"
    env = process_env(tg, fake, tmp_path, TELEGRAM_BOT_TOKEN=wrong)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert "Telegram refused TELEGRAM_BOT_TOKEN" in err.decode() and wrong not in err.decode()
    assert "Traceback" not in err.decode()
