"""Restarts, shutdown, upload limits, previews, Discord's rate limits, and both platforms
in one process."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from pathlib import Path

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route
from PIL import Image
from pydantic import SecretStr

from bot.app.runtime import serve
from bot.errors import StartupError
from tests.discord.conftest import ALICE, DiscordWorld, settings_for
from tests.fakes.discord_server import TOKEN, FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_server import Chat, FakeTelegram
from tests.fakes.telegram_server import User as TelegramUser
from tests.helpers import colour_name, free_port, until_healthy

REPO = Path(__file__).resolve().parents[2]
MIB = 2**20


async def test_a_crash_mid_job_is_told_on_restart_with_a_working_retry(
    idle_world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    first = await idle_world.start()
    fake.fail("slow", delay=30)
    prompt = await dc.say(ALICE, "a red lighthouse", guild=idle_world.guild, mention_bot=True)
    await dc.wait_text(idle_world.channel, "Drawing")
    await dc.wait_for(idle_world.provider_calls, what="the provider call")
    # The process dies: it takes no more events and never finishes the turn.
    await idle_world.crash(first)

    # The next start sees the dead process let its lock go, and takes the turn over at once.
    await idle_world.start()
    notice = await dc.wait_text(idle_world.channel, "The bot restarted while drawing “a red lighthouse”")
    assert notice["message_reference"]["message_id"] == str(prompt)
    assert dc.buttons(int(notice["id"])) == ["🔄 Retry"]
    await dc.press(int(notice["id"]), "🔄", ALICE, guild=idle_world.guild)
    picture = await dc.wait_picture(idle_world.channel)
    assert colour_name(dc.file(picture["attachments"][0])) == "red"


async def test_stopping_interrupts_cleanly_and_retry_works_after_the_restart(
    idle_world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    runtime = await idle_world.start()
    fake.fail("slow", delay=30)
    run = await dc.slash(ALICE, "imagine", {"prompt": "a blue tram"}, guild=idle_world.guild)
    await dc.wait_for(idle_world.provider_calls, what="the provider call")
    await idle_world.stop(runtime, grace_s=0.2)
    assert not dc.connected

    notice = await dc.wait_text(idle_world.channel, "The bot is restarting and stopped drawing “a blue tram”")
    assert int(notice["id"]) == run.original_id  # the card became the notice
    await idle_world.start()
    await dc.press(int(notice["id"]), "🔄", ALICE, guild=idle_world.guild)
    picture = await dc.wait_picture(idle_world.channel)
    assert colour_name(dc.file(picture["attachments"][0])) == "blue"


async def test_buttons_work_after_a_restart(idle_world: DiscordWorld, dc: FakeDiscord) -> None:
    runtime = await idle_world.start()
    await dc.say(ALICE, "a yellow duck", guild=idle_world.guild, mention_bot=True)
    picture = await dc.wait_picture(idle_world.channel)
    await idle_world.stop(runtime)
    await idle_world.start()
    await dc.press(int(picture["id"]), "🔁", ALICE, guild=idle_world.guild)
    again = await dc.wait_picture(idle_world.channel, after=int(picture["id"]))
    assert colour_name(dc.file(again["attachments"][0])) == "yellow"


async def test_a_4k_result_over_the_upload_limit_comes_as_a_preview(
    world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.texture = True  # noisy pixels: a 4K PNG of about 13 MB, over the 10 MiB limit
    options = {"prompt": "a red mountain at dawn", "size": "3840x2160"}
    await dc.slash(ALICE, "imagine", options, guild=world.guild)
    picture = await dc.wait_picture(world.channel, within=30)
    shown = picture["attachments"][0]
    preview = dc.file(shown)
    assert shown["filename"] == "redraw-1-preview.jpg" and preview[:3] == b"\xff\xd8\xff"
    assert len(preview) <= 10 * MIB
    with Image.open(io.BytesIO(preview)) as image:
        assert image.size == (3840, 2160)  # full size, just JPEG
    await dc.press(int(picture["id"]), "📎", ALICE, guild=world.guild)
    original = await dc.wait_message(
        world.channel,
        lambda m: "best JPEG that fits" in m["content"],
        within=30,
        what="the original, as a JPEG",
    )
    assert "over the 10 MB upload limit here" in original["content"]
    assert len(dc.file(original["attachments"][0])) <= 10 * MIB


async def test_a_boosted_guild_gets_the_original_png(
    idle_world: DiscordWorld, dc: FakeDiscord, fake: FakeOpenAI
) -> None:
    boosted = dc.add_guild("Boosted", owner=ALICE, premium_tier=2)  # 50 MiB uploads
    await idle_world.start()
    fake.texture = True
    await dc.slash(ALICE, "imagine", {"prompt": "a red mountain", "size": "3840x2160"}, guild=boosted)
    picture = await dc.wait_picture(boosted.channel_id, within=30)
    data = dc.file(picture["attachments"][0])
    assert picture["attachments"][0]["filename"] == "redraw-1.png"
    assert data[:4] == b"\x89PNG" and len(data) > 10 * MIB


async def test_partial_previews_show_in_the_progress_message(
    idle_world: DiscordWorld, dc: FakeDiscord
) -> None:
    await idle_world.start(status_after_s=0, redraw_partial_images=2)
    # A provider that draws for a while after each preview: a preview whose picture came at
    # once would rightly give way to the picture (results first).
    idle_world.openai.partial_gap = 0.5
    dm = dc.dm_channel(ALICE)
    await dc.say(ALICE, "a purple flower")
    picture = await dc.wait_picture(dm)
    await dc.settle()
    calls = dc.calls_to("POST", f"/channels/{dm}/messages") + dc.calls_to(
        "PATCH", f"/channels/{dm}/messages/"
    )
    previews = [upload for call in calls for upload in call.files if upload.filename == "preview.jpg"]
    assert previews, "no partial preview was shown"
    assert all(upload.data[:3] == b"\xff\xd8\xff" for upload in previews)
    # The status (text, then previews) became the picture.
    assert [m["id"] for m in dc.bot_messages(dm)] == [picture["id"]]


async def test_discord_rate_limits_are_waited_out(world: DiscordWorld, dc: FakeDiscord) -> None:
    dc.rate_limit_next("POST", f"/channels/{world.channel}/messages", retry_after=0.5)
    await dc.say(ALICE, "a blue lake", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    assert colour_name(dc.file(picture["attachments"][0])) == "blue"


async def test_the_fake_is_reached_by_the_adapter_client_alone(world: DiscordWorld, dc: FakeDiscord) -> None:
    # discord.py's class-wide addresses stay Discord's: only this client goes to the fake.
    assert Route.BASE == "https://discord.com/api/v10"
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"
    await dc.say(ALICE, "a red pear", guild=world.guild, mention_bot=True)
    picture = await dc.wait_picture(world.channel)
    assert colour_name(dc.file(picture["attachments"][0])) == "red"


async def test_a_wrong_token_or_an_unreachable_discord_is_one_clear_line(idle_world: DiscordWorld) -> None:
    with pytest.raises(StartupError, match="Discord refused DISCORD_BOT_TOKEN"):
        await idle_world.start(discord_bot_token=SecretStr("wrong"))
    with pytest.raises(StartupError, match="could not reach Discord"):
        await idle_world.start(discord_api_base_url="http://127.0.0.1:9")


async def test_both_platforms_run_in_one_process_on_one_engine(
    idle_world: DiscordWorld, dc: FakeDiscord, tmp_path: Path
) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    try:
        idle_world.adapter_options = {**idle_world.adapter_options, "telegram": {"poll_timeout_s": 1.0}}
        runtime = await idle_world.start(
            platforms=("telegram", "discord"),
            telegram_bot_token=SecretStr(TELEGRAM_TOKEN),
            telegram_api_base_url=telegram.base_url,
            telegram_api_file_url=telegram.file_url,
        )
        assert [adapter.platform for adapter in runtime.adapters] == ["telegram", "discord"]
        chat, user = Chat(601, "private", "Tom"), TelegramUser(601, "Tom", "en", "tom")
        telegram.send(chat, user, "a green pear")
        await dc.say(ALICE, "a red pear", guild=idle_world.guild, mention_bot=True)
        photo = await telegram.wait_photo(chat)
        picture = await dc.wait_picture(idle_world.channel)
        assert colour_name(telegram.photo_bytes(photo)) == "green"
        assert colour_name(dc.file(picture["attachments"][0])) == "red"
        # One engine, one database: both turns are in it.
        turns = [await runtime.store.get_turn(turn_id) for turn_id in (1, 2)]
        assert {turn.platform for turn in turns if turn is not None} == {"telegram", "discord"}
        await idle_world.stop(runtime)
    finally:
        await telegram.close()


async def test_redraw_run_on_discord_stops_cleanly_and_logs_no_secret(
    dc: FakeDiscord, fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The real command in its own process: it draws, and SIGTERM stops it without a trace of the token."""
    guild = dc.add_guild(owner=ALICE)
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "REDRAW_", "TELEGRAM_", "DISCORD_"))
    }
    env = {
        **inherited,
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_BASE_URL": f"http://127.0.0.1:{dc.port}",
        "DISCORD_GATEWAY_URL": dc.gateway_url,
        "OPENAI_API_KEY": "sk-test-key-0123456789",
        "OPENAI_BASE_URL": fake.base_url,
        "REDRAW_DATA_DIR": str(tmp_path / "data"),
        "REDRAW_PARTIAL_IMAGES": "0",
        "PYTHONPATH": str(REPO),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "-v",
        "run",
        "--platform",
        "discord",
        env=env,
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        try:
            await dc.wait_for(lambda: dc.connected, within=30, what="the bot on the gateway")
        except AssertionError:
            if process.returncode is None:
                process.kill()
            assert process.stderr is not None
            raise AssertionError((await process.stderr.read()).decode()[-3000:]) from None
        await dc.say(ALICE, "a red boat", guild=guild, mention_bot=True)
        picture = await dc.wait_picture(guild.channel_id, within=30)
        assert colour_name(dc.file(picture["attachments"][0])) == "red"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    log = (await process.stderr.read()).decode()
    assert "logged in as" in log
    assert TOKEN not in log and "sk-test-key-0123456789" not in log


async def test_a_gateway_lost_for_good_ends_the_process_with_a_failure(
    dc: FakeDiscord, fake: FakeOpenAI, tmp_path: Path
) -> None:
    port = free_port()
    settings = settings_for(
        dc, fake, tmp_path / "data", redraw_metrics_port=port, redraw_metrics_listen="127.0.0.1"
    )
    dc.add_guild(owner=ALICE)
    running = asyncio.create_task(serve(settings, ["discord"]))
    assert await until_healthy(f"http://127.0.0.1:{port}/healthz") == "ok\n"
    # The token was revoked: discord.py can't reconnect, so the process must not run on deaf.
    await dc.close_gateway(4004, "Authentication failed.")
    assert await asyncio.wait_for(running, 10) is False
