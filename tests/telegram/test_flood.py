"""Telegram's flood limits spent on results first: the provider never waits for Telegram, a
quick picture is one message, statuses coalesce and leave room for pictures, and with the
fake enforcing the published limits nothing is lost and no 429 comes back."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from adapters.telegram_adapter.pacing import FloodLimits
from bot.engine.options import EngineOptions
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import COUNTED, Call, Chat, FakeTelegram, FloodModel, User
from tests.telegram.conftest import ALICE, GROUP, PRIVATE, TelegramWorld

DEFAULTS = EngineOptions()
# The bot's own pacing as in production, against the fake enforcing Telegram's limits.
REAL = {"flood": FloodLimits()}


def counted(tg: FakeTelegram, chat: Chat) -> list[Call]:
    """The calls Telegram counts against the chat's flood limits."""
    return [call for call in tg.sent(chat=chat) if call.method.startswith(COUNTED)]


def is_picture(message: dict[str, Any]) -> bool:
    return "💲" in message.get("caption", "")


async def test_a_quick_picture_costs_one_message(idle_world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.flood = FloodModel()
    await idle_world.start(status_after_s=DEFAULTS.status_after_s, adapter=REAL)
    prompt = tg.send(PRIVATE, ALICE, "a red fox")
    photo = await tg.wait_photo(PRIVATE)
    await tg.settle()
    # No chat action, no status message, nothing to delete: the picture, replying to the prompt.
    assert [call.method for call in counted(tg, PRIVATE)] == ["sendPhoto"]
    assert photo["reply_to_message"]["message_id"] == prompt["message_id"]
    assert tg.flooded == []


async def test_the_provider_call_never_waits_for_telegram(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    await idle_world.start(status_after_s=0)
    held = tg.hold("sendMessage")
    fake.fail("slow", delay=0.5)
    tg.send(PRIVATE, ALICE, "a blue kite")
    await held.wait_reached()
    # The status message is stuck at Telegram; the provider has the request all the same.
    await tg.wait_for(idle_world.provider_calls, what="the provider call")
    assert not held.released.is_set()
    held.released.set()
    photo = await tg.wait_message(PRIVATE, is_picture, what="the picture")
    # The status that got through became the picture.
    assert [message["message_id"] for message in tg.bot_messages(PRIVATE)] == [photo["message_id"]]


async def test_the_status_comes_after_the_provider_call_and_only_for_a_slow_picture(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    await idle_world.start(status_after_s=0.3)
    fake.fail("slow", delay=1.0)
    tg.send(PRIVATE, ALICE, "a slow green kite")
    await tg.wait_message(PRIVATE, is_picture, what="the picture")
    [status] = tg.sent("sendMessage", PRIVATE)
    assert idle_world.provider_calls()[0].at < status.at


async def test_statuses_coalesce_and_leave_the_chat_room_for_the_picture(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    """The engine wants an update 20 times a second; Telegram allows about one a second in a
    chat: only the latest state goes out, within the chat's budget less its reserve."""
    tg.flood = FloodModel()
    await idle_world.start(status_after_s=0, progress_every_s=0.05, adapter=REAL)
    fake.fail("slow", delay=3.2)
    tg.send(PRIVATE, ALICE, "a slow purple kite")
    await tg.wait_message(PRIVATE, is_picture, what="the picture")
    await tg.settle()
    calls = counted(tg, PRIVATE)
    statuses = [call for call in calls if call.method in ("sendMessage", "editMessageText")]
    # The clock went 0:00 to 0:03; each call showed a later state than the one before.
    shown = [int(re.findall(r"0:(\d\d)", call.params["text"])[0]) for call in statuses]
    assert 1 <= len(statuses) <= 4 and shown == sorted(set(shown))
    # The picture took the status message's place, and never met a 429.
    assert calls[-1].method == "editMessageMedia" and tg.flooded == []


async def test_one_chat_prompt_after_prompt_is_one_message_each(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    await world.stop_all()
    tg.flood = FloodModel()
    await world.start(status_after_s=DEFAULTS.status_after_s, adapter=REAL)
    after = 0
    for number in range(6):
        tg.send(PRIVATE, ALICE, f"a red kite number {number}")
        photo = await tg.wait_photo(PRIVATE, after=after)
        after = photo["message_id"]
        await asyncio.sleep(0.3)
    await tg.settle()
    # Past the chat's burst of three the bot waits its turn rather than being refused.
    assert [call.method for call in counted(tg, PRIVATE)] == ["sendPhoto"] * 6
    assert tg.flooded == []


async def test_ten_members_of_a_group_at_once_all_get_their_picture(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    """20 messages a minute is all a group gets: the pictures first, and a few statuses for
    the pictures that wait (the chat draws 4 at a time), never a 429."""
    tg.flood = FloodModel()
    await idle_world.start(status_after_s=DEFAULTS.status_after_s, adapter=REAL)
    fake.latency = 1.0
    members = [User(600 + n, f"Member{n}", "en", f"member{n}") for n in range(10)]
    prompts = [tg.send(GROUP, member, f"/draw a kite for member {n}") for n, member in enumerate(members)]

    def pictures() -> list[dict[str, Any]]:
        return [message for message in tg.bot_messages(GROUP) if is_picture(message)]

    await tg.wait_for(lambda: len(pictures()) == 10 or None, within=30, what="ten pictures")
    await tg.settle(0.5)
    replies = sorted(message["reply_to_message"]["message_id"] for message in pictures())
    assert replies == [prompt["message_id"] for prompt in prompts]
    assert tg.flooded == []
    calls = counted(tg, GROUP)
    assert not [call for call in calls if call.method == "sendChatAction"]
    # One message per picture, and few besides: statuses for those that waited, and their removal.
    assert len(calls) <= 10 + 6


async def test_a_429_holds_that_chat_and_no_other(world: TelegramWorld, tg: FakeTelegram) -> None:
    first, second = User(801, "Ann"), User(802, "Ben")
    first_chat, second_chat = Chat(801, "private", "Ann"), Chat(802, "private", "Ben")
    tg.fail_next("sendPhoto", 429, "Too Many Requests: retry after 2", retry_after=2)
    tg.send(first_chat, first, "a red kite")
    await tg.wait_for(lambda: tg.sent("sendPhoto", first_chat) or None, what="the refused photo")
    tg.send(second_chat, second, "a blue kite")
    await tg.wait_photo(second_chat)
    await tg.wait_photo(first_chat)
    # The other chat's photo went while the refused one waited out its retry_after.
    refused, again = tg.sent("sendPhoto", first_chat)
    assert refused.at < tg.sent("sendPhoto", second_chat)[0].at < again.at
