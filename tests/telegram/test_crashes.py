"""kill -9 of a real `redraw run` at each point where a promise could break, then a
restart: the user gets the picture or a message with Retry within 10 s, the provider
saw one generation, and the ledger holds one charge. On SQLite and on PostgreSQL, with
the default lease (a dead process is seen from its lock, not from the lease running out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.db import scratch_database
from tests.conftest import POSTGRES_URL
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import colour_name, png
from tests.telegram.conftest import ALICE, PRIVATE
from tests.telegram.process import BotProcess, ledger, process_env

# Within this long of the restart, the user hears of their picture.
TOLD_WITHIN_S = 10


@dataclass
class Crashing:
    bot: BotProcess
    database_url: str
    fake: FakeOpenAI

    def generations(self) -> int:
        return len([r for r in self.fake.requests if r.path.startswith("/v1/images/")])

    async def charges(self) -> int:
        stats = await ledger(self.database_url)
        return stats.images


@pytest.fixture(params=["sqlite", "postgres"])
async def crashing(
    request: pytest.FixtureRequest, tg: FakeTelegram, fake: FakeOpenAI, tmp_path: Path
) -> AsyncIterator[Crashing]:
    async def run(url: str) -> AsyncIterator[Crashing]:
        env = process_env(tg, fake, tmp_path, REDRAW_DATABASE_URL=url, REDRAW_BACKEND="images")
        bot = BotProcess(tg, env, tmp_path)
        try:
            yield Crashing(bot, url, fake)
        finally:
            await bot.stop()

    if request.param == "sqlite":
        async for world in run(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'redraw.db'}"):
            yield world
        return
    async with scratch_database(POSTGRES_URL, "redraw_test") as url:
        async for world in run(url):
            yield world


async def test_killed_while_drawing_the_chat_is_told_at_once_and_retry_draws_once(
    crashing: Crashing, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    await crashing.bot.start()
    fake.fail("slow", delay=60)
    tg.send(PRIVATE, ALICE, "a red lighthouse")
    await tg.wait_for(crashing.generations, what="the provider call")
    await crashing.bot.kill()

    await crashing.bot.start()
    notice = await tg.wait_text(PRIVATE, "restarted while drawing “a red lighthouse”", within=TOLD_WITHIN_S)
    assert tg.buttons(notice) == ["🔄 Retry"]
    assert await crashing.charges() == 0

    # A double tap is one press: one more generation, one charge.
    tg.press(notice, "🔄", ALICE)
    tg.press(notice, "🔄", ALICE)
    photo = await tg.wait_photo(PRIVATE)
    assert colour_name(tg.photo_bytes(photo)) == "red"
    await tg.settle()
    assert crashing.generations() == 2
    assert await crashing.charges() == 1
    assert len(tg.sent("sendPhoto", PRIVATE)) == 1

    # The same Retry after another restart draws nothing more.
    await crashing.bot.kill()
    await crashing.bot.start()
    tg.press(notice, "🔄", ALICE)
    await tg.wait_text(PRIVATE, "can't be retried", within=TOLD_WITHIN_S)
    assert crashing.generations() == 2
    assert await crashing.charges() == 1


async def test_killed_while_downloading_a_photo_the_message_is_drawn_after_the_restart(
    crashing: Crashing, tg: FakeTelegram
) -> None:
    await crashing.bot.start()
    download = tg.hold("download")
    prompt = tg.send(PRIVATE, ALICE, "make it green", photo=png("blue"))
    await download.wait_reached()
    await crashing.bot.kill()

    await crashing.bot.start()
    photo = await tg.wait_photo(PRIVATE, within=TOLD_WITHIN_S)
    assert photo["reply_to_message"]["message_id"] == prompt["message_id"]
    assert colour_name(tg.photo_bytes(photo)) == "green"
    await tg.settle()
    assert crashing.generations() == 1
    assert await crashing.charges() == 1


async def test_killed_while_an_album_waits_for_its_photos_it_is_drawn_whole_after_the_restart(
    crashing: Crashing, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    await crashing.bot.start()
    album = tg.send_album(PRIVATE, ALICE, [png("blue"), png("green")], "blend these into one red picture")
    last = tg.last_update_id
    # Fetched and confirmed to Telegram: from here on only the bot has the album, waiting
    # in memory for the rest of it.
    await tg.wait_for(lambda: tg.fetched(last), what="the album to be fetched")
    await crashing.bot.kill()

    await crashing.bot.start()
    photo = await tg.wait_photo(PRIVATE, within=TOLD_WITHIN_S)
    assert photo["reply_to_message"]["message_id"] == album[0]["message_id"]
    assert colour_name(tg.photo_bytes(photo)) == "red"
    await tg.settle()
    [call] = [r for r in fake.requests if r.path.startswith("/v1/images/")]
    assert len(call.input_images()) == 2
    assert await crashing.charges() == 1


async def test_killed_as_soon_as_a_message_is_fetched_it_is_answered_after_the_restart(
    crashing: Crashing, tg: FakeTelegram
) -> None:
    await crashing.bot.start()
    tg.send(PRIVATE, ALICE, "a yellow kite")
    last = tg.last_update_id
    await tg.wait_for(lambda: tg.fetched(last), what="the message to be fetched")
    # Somewhere between being stored and being drawn: either way it is not lost.
    await crashing.bot.kill()

    await crashing.bot.start()
    answer = await tg.wait_message(
        PRIVATE,
        lambda m: "photo" in m or "restarted while drawing" in m.get("text", ""),
        within=TOLD_WITHIN_S,
    )
    if "photo" not in answer:
        assert tg.buttons(answer) == ["🔄 Retry"]
        tg.press(answer, "🔄", ALICE)
        answer = await tg.wait_photo(PRIVATE, after=answer["message_id"])
    assert colour_name(tg.photo_bytes(answer)) == "yellow"
    await tg.settle()
    assert await crashing.charges() == 1
    assert len(tg.bot_photos(PRIVATE)) == 1


async def test_killed_after_the_charge_before_the_photo_the_stored_picture_is_sent(
    crashing: Crashing, tg: FakeTelegram
) -> None:
    await crashing.bot.start()
    sending = tg.hold("sendPhoto")
    prompt = tg.send(PRIVATE, ALICE, "a blue whale")
    await sending.wait_reached()
    assert await crashing.charges() == 1
    await crashing.bot.kill()
    assert tg.bot_photos(PRIVATE) == []

    await crashing.bot.start()
    photo = await tg.wait_photo(PRIVATE, within=TOLD_WITHIN_S)
    assert photo["reply_to_message"]["message_id"] == prompt["message_id"]
    assert colour_name(tg.photo_bytes(photo)) == "blue"
    await tg.settle()
    assert crashing.generations() == 1
    assert await crashing.charges() == 1
    # Sent once: a second restart has nothing more to send.
    await crashing.bot.kill()
    await crashing.bot.start()
    await tg.settle()
    assert len(tg.bot_photos(PRIVATE)) == 1


async def test_killed_before_a_sent_photo_is_recorded_a_reply_to_it_still_edits_it(
    crashing: Crashing, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    await crashing.bot.start()
    # Telegram has the photo; the bot dies before it hears back, so its key is never stored.
    sending = tg.hold("sendPhoto", after=True)
    tg.send(PRIVATE, ALICE, "a red apple")
    await sending.wait_reached()
    await crashing.bot.kill()
    [unrecorded] = tg.bot_photos(PRIVATE)

    await crashing.bot.start()
    # Recovery cannot know the photo arrived: it is sent again, and this copy is recorded.
    again = await tg.wait_photo(PRIVATE, after=unrecorded["message_id"], within=TOLD_WITHIN_S)
    assert colour_name(tg.photo_bytes(again)) == "red"

    # A reply to the first copy continues that picture: an edit of it, not a fresh drawing.
    tg.send(PRIVATE, ALICE, "now make it green", reply_to=unrecorded)
    edited = await tg.wait_photo(PRIVATE, after=again["message_id"])
    assert colour_name(tg.photo_bytes(edited)) == "green"
    calls = [r for r in fake.requests if r.path.startswith("/v1/images/")]
    assert [call.path for call in calls] == ["/v1/images/generations", "/v1/images/edits"]
    assert colour_name(calls[1].input_images()[0]) == "red"
    assert await crashing.charges() == 2
