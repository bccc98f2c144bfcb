"""Benchmark Redraw against the platforms' limits.

The real ``redraw run`` (a process of its own, SQLite, the images backend) against
the fake Bot API and the fake Discord, both enforcing the platforms' published
limits (Telegram: 30 messages/s overall, 1/s with a burst of 3 per private chat,
20/min per group; Discord: 5 new messages and 5 edits per 5 s per channel), and
the fake provider answering ``data[].url`` for 1024x1024 after a fixed latency.
The fakes run in this process; the bot in its own.

Telegram, one process (idle RSS first):
1. a quiet chat: one picture at a time, provider at once: the median from the
   prompt to the photo at the platform;
2. one busy chat: prompts in a row, each 0.3 s after the previous photo, provider at
   once: the median, against the chat's own floor under its flood limit;
3. ``--chats`` private chats at once, provider at 1 s, then at ``--slow`` s: last
   photo, p50, 429s, upstream-start lag (prompt to provider request), delivery lag
   (provider answer to photo at the platform; also the part of it the platform's 30 a
   second imposes, and what is beyond that), calls in flight upstream, peak RSS;
4. ``--chats`` pictures in flight: prompts keep coming, each in a chat of its own, at
   ``--chats`` per provider latency (5 s), so that as many are drawing as are asked for;
   over the ``--steady`` seconds after the first 5: upstream-start lag and delivery lag,
   the issue's figures "at 100 in flight";
5. ``--group`` members of one group at once, provider at 1 s, default limits.

Discord, a second process: ``--group`` members of one channel at once, and
``--channels`` channels at once, provider at 1 s: last image, REST calls a picture, 429s.

Usage: ``python bench/platform.py [--chats 100] [--slow 20] [--group 10] [--busy 20]
[--quiet 20] [--channels 50] [--steady 30]``. Prints the figures, then one JSON object as the last line.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where this very file would stand in
# for the standard library's platform module (which pydantic, uuid and psutil import).
if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backends import percentile
from tests.fakes import discord_server, telegram_server
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import Chat, FakeTelegram, FloodModel, User

# Every picture is in flight at once: the engine's own target is 1,000.
LIMIT_GLOBAL = "1000"


class Bot:
    """``redraw run`` in its own process, and its memory as it runs."""

    def __init__(self, env: dict[str, str], platform: str, logs: Path, python: str) -> None:
        self.log = logs / f"redraw-{platform}.log"
        # The deploy step first, so the bot starts as it does every time after the first:
        # with its database at the newest revision (no migration tools in memory).
        subprocess.run(
            [python, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        self.process = subprocess.Popen(
            [python, "-m", "bot", "run", "--platform", platform],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.peak = 0
        self._sampler: asyncio.Task[None] | None = None

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def sample(self) -> None:
        self._sampler = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, psutil.Process(self.process.pid).memory_info().rss)
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def alive(self) -> None:
        if self.process.poll() is not None:
            raise SystemExit(f"redraw run exited:\n{self.log.read_text()[-3000:]}")


async def wait_for(probe: Callable[[], bool], within: float, what: str, bot: Bot) -> None:
    deadline = time.monotonic() + within
    while not probe():
        bot.alive()
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}\n{bot.log.read_text()[-3000:]}")
        await asyncio.sleep(0.01)


def base_env(fake: FakeOpenAI, data: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "REDRAW_", "TELEGRAM_", "DISCORD_"))
    }
    env.update(
        OPENAI_API_KEY="sk-bench",
        OPENAI_BASE_URL=fake.base_url,
        REDRAW_BACKEND="images",
        # data[].url answers, no streaming: the setup.
        REDRAW_PARTIAL_IMAGES="0",
        REDRAW_DATA_DIR=str(data),
        REDRAW_LIMIT_GLOBAL=LIMIT_GLOBAL,
    )
    return env


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def in_flight(fake: FakeOpenAI, since: float) -> int:
    """The most provider calls open at once (from their arrival and answer times)."""
    edges: list[tuple[float, int]] = []
    for request in fake.requests:
        if request.path.startswith("/v1/images") and request.at >= since and request.answered_at:
            edges += [(request.at, 1), (request.answered_at, -1)]
    most = current = 0
    for _, step in sorted(edges):
        current += step
        most = max(most, current)
    return most


# --- Telegram -----------------------------------------------------------------------


# The tags the scenarios put in their prompts (kite-30001, newcomer-80003, ...): a photo's
# caption and a provider request carry their prompt's.
TAG = re.compile(r"\b[a-z]+-\d+\b")


class Seen:
    """The photos at the platform and the requests at the provider, by prompt tag. It reads
    only what is new since it last looked: the scenarios poll every 10 ms, and a scan of
    every call for every chat made this process (which also runs the fakes) the busiest on
    the machine, slowing the very fakes that stamp the figures."""

    def __init__(self, tg: FakeTelegram, fake: FakeOpenAI) -> None:
        self.tg, self.fake = tg, fake
        self._calls = self._requests = 0
        self._photos: dict[str, telegram_server.Call] = {}
        self._provider: dict[str, Any] = {}

    def _catch_up(self) -> None:
        calls, self._calls = self.tg.calls[self._calls :], len(self.tg.calls)
        for call in calls:
            if call.method in ("sendPhoto", "editMessageMedia"):
                caption = call.params.get("caption") or (call.params.get("media") or {}).get("caption") or ""
                if "💲" in caption:
                    for tag in TAG.findall(caption):
                        self._photos.setdefault(tag, call)
        requests, self._requests = self.fake.requests[self._requests :], len(self.fake.requests)
        for request in requests:
            if request.path.startswith("/v1/images"):
                for tag in TAG.findall(str(request.json or request.fields)):
                    self._provider.setdefault(tag, request)

    def photo(self, tag: str) -> telegram_server.Call | None:
        """The call that showed the picture for ``tag``: a photo, or a status turned into it."""
        self._catch_up()
        return self._photos.get(tag)

    def provider(self, tag: str) -> Any:
        self._catch_up()
        return self._provider.get(tag)


def platform_floor(answered: list[float], model: FloodModel) -> list[float]:
    """When a perfect bot could have each photo at the platform: sent the moment its answer
    came, unless the platform's overall limit (a bucket of ``overall_per_s`` tokens a
    second, as full as it can be at the first answer) makes it wait. In answer order."""
    tokens, now, floor = model.overall_per_s, min(answered, default=0.0), []
    for at in sorted(answered):
        tokens = min(model.overall_per_s, tokens + (at - now) * model.overall_per_s)
        now = at
        if tokens < 1:
            now += (1 - tokens) / model.overall_per_s
            tokens = 1.0
        tokens -= 1
        floor.append(now)
    return floor


async def burst(seen: Seen, bot: Bot, chats: int, *, first_id: int, latency: float) -> dict[str, Any]:
    """``chats`` private chats prompt at once."""
    tg, fake = seen.tg, seen.fake
    # From an idle bot: the run before may still be writing its last deliveries.
    await asyncio.sleep(2.0)
    fake.latency = latency
    flooded = len(tg.flooded)
    users = [User(first_id + n, f"U{n}") for n in range(chats)]
    chat_list = [Chat(user.id, "private", user.first_name) for user in users]
    tags = [f"kite-{first_id + n}" for n in range(chats)]
    started = time.monotonic()
    prompts = [
        tg.send(chat, user, f"a red {tag}") for chat, user, tag in zip(chat_list, users, tags, strict=True)
    ]
    await wait_for(lambda: all(seen.photo(tag) for tag in tags), latency * 3 + 60, f"{chats} photos", bot)
    photos = [seen.photo(tag) for tag in tags]
    calls = [seen.provider(tag) for tag in tags]
    sent = [
        tg.sent_at[(chat.id, prompt["message_id"])] for chat, prompt in zip(chat_list, prompts, strict=True)
    ]
    arrived = [photo.at - started for photo in photos if photo]
    start_lag = [call.at - at for call, at in zip(calls, sent, strict=True)]
    pairs = sorted((call.answered_at, photo.at) for photo, call in zip(photos, calls, strict=True) if photo)
    delivery = [shown - answered for answered, shown in pairs]
    # What the platform's 30 a second leaves: 100 answers in the same moment can't all be
    # photos within 1.5 s. Beyond it is what the bot itself adds (its pacing margin included).
    floor = platform_floor([answered for answered, _ in pairs], tg.flood or FloodModel())
    # The k-th photo to reach the platform against the k-th a perfect bot could have there.
    shown_in_order = sorted(shown for _, shown in pairs)
    beyond = [shown - earliest for shown, earliest in zip(shown_in_order, floor, strict=True)]
    counted = [
        call
        for chat in chat_list
        for call in tg.sent(chat=chat)
        if call.method.startswith(telegram_server.COUNTED)
    ]
    return {
        "last_photo_s": round(max(arrived), 2),
        "p50_s": round(statistics.median(arrived), 2),
        "delivered": len(arrived),
        "flooded_429": len(tg.flooded) - flooded,
        "upstream_start_lag_p50_ms": ms(statistics.median(start_lag)),
        "upstream_start_lag_p99_ms": ms(percentile(start_lag, 0.99)),
        "delivery_lag_p99_s": round(percentile(delivery, 0.99), 2),
        "delivery_lag_floor_p99_s": round(
            percentile([f - a for (a, _), f in zip(pairs, floor, strict=True)], 0.99), 2
        ),
        "delivery_lag_beyond_floor_p99_s": round(percentile(beyond, 0.99), 2),
        "upstream_in_flight_max": in_flight(fake, started),
        "calls_per_picture": round(len(counted) / chats, 2),
    }


def open_at(fake: FakeOpenAI, moment: float) -> int:
    """Provider calls open at ``moment``."""
    return sum(
        1
        for request in fake.requests
        if request.path.startswith("/v1/images")
        and request.at <= moment
        and (request.answered_at is None or request.answered_at > moment)
    )


async def steady(seen: Seen, bot: Bot, chats: int, window: float) -> dict[str, Any]:
    """A bot carrying ``chats`` pictures in flight: prompts keep coming (each in a chat of its
    own) at ``chats`` per provider latency (5 s: 20 a second, within Telegram's 30), so that
    after the first 5 s as many are drawing as are asked for. For the prompts of the next
    ``window`` seconds: upstream-start lag (prompt to provider request) and delivery lag
    (provider answer to photo at the platform)."""
    tg, fake = seen.tg, seen.fake
    await asyncio.sleep(2.0)
    latency = 5.0
    fake.latency = latency
    flooded = len(tg.flooded)
    every = latency / chats
    # The first ``chats`` fill the pipe; the rest come with that many drawing.
    count = chats + max(1, round(window / every))
    started = time.monotonic()
    prompts: list[tuple[str, float]] = []
    for n in range(count):
        # On a schedule, not a sleep after each: the loop's own delays don't thin the load.
        await asyncio.sleep(max(0.0, started + n * every - time.monotonic()))
        chat = Chat(90_000 + n, "private", f"S{n}")
        prompt = tg.send(chat, User(chat.id, f"S{n}"), f"a red steady-{chat.id}")
        prompts.append((f"steady-{chat.id}", tg.sent_at[(chat.id, prompt["message_id"])]))
    tags = [tag for tag, _ in prompts]
    await wait_for(lambda: all(seen.photo(tag) for tag in tags), latency + 60, "the photos", bot)
    measured = prompts[chats:]
    start_lag, delivery, drawing = [], [], []
    for tag, sent in measured:
        call, photo = seen.provider(tag), seen.photo(tag)
        assert photo is not None
        start_lag.append(call.at - sent)
        delivery.append(photo.at - call.answered_at)
        drawing.append(open_at(fake, call.at))
    return {
        "in_flight": chats,
        "prompts_measured": len(measured),
        "in_flight_seen_p50": statistics.median(drawing),
        "start_lag_p50_ms": ms(statistics.median(start_lag)),
        "start_lag_p99_ms": ms(percentile(start_lag, 0.99)),
        "delivery_lag_p50_s": round(statistics.median(delivery), 3),
        "delivery_lag_p99_s": round(percentile(delivery, 0.99), 3),
        "flooded_429": len(tg.flooded) - flooded,
    }


async def one_picture(seen: Seen, bot: Bot, chat: Chat, user: User, tag: str) -> float:
    """Prompt in ``chat`` and wait for the photo: seconds from the prompt to the photo."""
    tg = seen.tg
    prompt = tg.send(chat, user, f"a blue {tag}")
    await wait_for(lambda: seen.photo(tag) is not None, 30, "a photo", bot)
    photo = seen.photo(tag)
    assert photo is not None
    return photo.at - tg.sent_at[(chat.id, prompt["message_id"])]


async def quiet(seen: Seen, bot: Bot, count: int) -> float:
    """One picture at a time, each in a chat of its own: the median from prompt to photo."""
    fake = seen.fake
    fake.latency = 0.0
    delays = []
    for n in range(count):
        user = User(10_000 + n, f"Q{n}")
        delays.append(await one_picture(seen, bot, Chat(user.id, "private", "Q"), user, f"quiet-{n}"))
    return ms(statistics.median(delays))


def chat_floor(count: int, gap: float, model: FloodModel) -> float:
    """The median a perfect bot would reach in one private chat: each photo as soon as the
    chat's flood limit allows, each prompt ``gap`` after the previous photo."""
    tokens, now, waits = float(model.chat_burst), 0.0, []
    for _ in range(count):
        sent = now if tokens >= 1 else now + (1 - tokens) / model.chat_per_s
        tokens = min(model.chat_burst, tokens + (sent - now) * model.chat_per_s) - 1
        waits.append(sent - now)
        tokens = min(model.chat_burst, tokens + gap * model.chat_per_s)
        now = sent + gap
    return statistics.median(waits)


async def busy(seen: Seen, bot: Bot, count: int) -> tuple[float, float, int, int]:
    """Prompts in a row in one chat, 0.3 s after each photo: the median, the floor, 429s, calls."""
    tg, fake = seen.tg, seen.fake
    fake.latency = 0.0
    flooded = len(tg.flooded)
    user = User(20_000, "Busy")
    chat = Chat(user.id, "private", "Busy")
    delays = []
    for n in range(count):
        delays.append(await one_picture(seen, bot, chat, user, f"busy-{n}"))
        await asyncio.sleep(0.3)
    calls = [call for call in tg.sent(chat=chat) if call.method.startswith(telegram_server.COUNTED)]
    floor = chat_floor(count, 0.3, tg.flood or FloodModel())
    return ms(statistics.median(delays)), ms(floor), len(tg.flooded) - flooded, len(calls)


async def group(seen: Seen, bot: Bot, members: int) -> dict[str, Any]:
    tg, fake = seen.tg, seen.fake
    fake.latency = 1.0
    flooded = len(tg.flooded)
    chat = Chat(-40_000, "supergroup", "Bench group")
    tags = [f"member-{n}" for n in range(members)]
    started = time.monotonic()
    for n, tag in enumerate(tags):
        tg.send(chat, User(40_000 + n, f"M{n}"), f"/draw a yellow {tag}")
    await wait_for(lambda: all(seen.photo(tag) for tag in tags), 120, "the group's photos", bot)
    last = max(call.at for tag in tags if (call := seen.photo(tag)))
    calls = [call for call in tg.sent(chat=chat) if call.method.startswith(telegram_server.COUNTED)]
    return {
        "last_photo_s": round(last - started, 2),
        "calls_per_picture": round(len(calls) / members, 2),
        "flooded_429": len(tg.flooded) - flooded,
    }


async def telegram(fake: FakeOpenAI, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    tg = FakeTelegram(flood=FloodModel())
    await tg.start()
    env = base_env(fake, work / "telegram")
    env.update(
        TELEGRAM_BOT_TOKEN=telegram_server.TOKEN,
        TELEGRAM_API_BASE_URL=tg.base_url,
        TELEGRAM_API_FILE_URL=tg.file_url,
    )
    bot = Bot(env, "telegram", work, args.python)
    seen = Seen(tg, fake)
    try:
        await wait_for(lambda: bool(tg.sent("getUpdates")), 60, "the bot to poll", bot)
        await asyncio.sleep(2.0)
        idle = bot.rss_mb()
        figures: dict[str, Any] = {"idle_rss_mb": round(idle, 1)}
        figures["quiet_median_ms"] = await quiet(seen, bot, args.quiet)
        median, floor, flooded, calls = await busy(seen, bot, args.busy)
        figures |= {
            "busy_median_ms": median,
            "busy_floor_ms": floor,
            "busy_429": flooded,
            "busy_calls": calls,
        }
        bot.sample()
        figures["fast"] = await burst(seen, bot, args.chats, first_id=30_000, latency=1.0)
        figures["slow"] = await burst(seen, bot, args.chats, first_id=50_000, latency=args.slow)
        figures["steady"] = await steady(seen, bot, args.chats, args.steady)
        figures["peak_rss_mb"] = round(bot.peak / 2**20, 1)
        figures["group"] = await group(seen, bot, args.group)
        return figures
    finally:
        bot.stop()
        await tg.close()


# --- Discord ------------------------------------------------------------------------


def pictures(dc: FakeDiscord, channel: int) -> list[dict[str, Any]]:
    return [
        message
        for message in dc.bot_messages(channel)
        if any(attachment["filename"].startswith("redraw-") for attachment in message["attachments"])
    ]


async def discord_run(fake: FakeOpenAI, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    dc = FakeDiscord()
    await dc.start()
    dc.limit_rates()
    owner = discord_server.User(900, "Owner")
    one = dc.add_guild("Bench", owner=owner)
    many = [dc.add_guild(f"Bench {n}", owner=owner) for n in range(args.channels)]
    env = base_env(fake, work / "discord")
    env.update(
        DISCORD_BOT_TOKEN=discord_server.TOKEN,
        DISCORD_API_BASE_URL=dc.api_url,
        DISCORD_GATEWAY_URL=dc.gateway_url,
    )
    bot = Bot(env, "discord", work, args.python)
    try:
        await wait_for(lambda: dc.connected and dc.identifies > 0, 60, "the gateway", bot)
        await asyncio.sleep(3.0)
        figures: dict[str, Any] = {"idle_rss_mb": round(bot.rss_mb(), 1)}
        fake.latency = 1.0
        members = [discord_server.User(910 + n, f"M{n}") for n in range(args.group)]
        started = time.monotonic()
        for member in members:
            await dc.say(member, "a kite", guild=one, mention_bot=True)
        await wait_for(
            lambda: len(pictures(dc, one.channel_id)) >= args.group, 120, "the channel's images", bot
        )
        calls = [call for call in dc.calls if f"/channels/{one.channel_id}/" in call.path]
        last = max(call.at for call in calls) - started
        figures["channel"] = {
            "last_image_s": round(last, 2),
            "rest_calls_per_picture": round(len(calls) / args.group, 2),
            "limited_429": len(dc.limited),
        }
        if many:
            limited, mark = len(dc.limited), len(dc.calls)
            started = time.monotonic()
            for n, guild in enumerate(many):
                await dc.say(discord_server.User(2000 + n, f"C{n}"), "a kite", guild=guild, mention_bot=True)
            await wait_for(
                lambda: all(pictures(dc, g.channel_id) for g in many), 120, "every channel's image", bot
            )
            calls = [call for call in dc.calls[mark:] if "/channels/" in call.path]
            figures["channels"] = {
                "count": len(many),
                "last_image_s": round(max(call.at for call in calls) - started, 2),
                "rest_calls_per_picture": round(len(calls) / len(many), 2),
                "limited_429": len(dc.limited) - limited,
            }
        return figures
    finally:
        bot.stop()
        await dc.close()


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="redraw-bench-") as name:
        yield Path(name)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    fake = FakeOpenAI()
    fake.images_result = "url"
    await fake.start()
    try:
        with workdir() as work:
            figures = {"telegram": await telegram(fake, work, args)}
            figures["discord"] = await discord_run(fake, work, args)
            return figures
    finally:
        await fake.close()


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    tg, dc = figures["telegram"], figures["discord"]
    fast, slow = tg["fast"], tg["slow"]
    print(f"Telegram, idle RSS {tg['idle_rss_mb']} MB, peak at {args.chats} in flight {tg['peak_rss_mb']} MB")
    print(f"  quiet chat: median {tg['quiet_median_ms']} ms from prompt to photo")
    print(
        f"  busy chat ({args.busy} prompts): median {tg['busy_median_ms']} ms"
        f" (floor {tg['busy_floor_ms']} ms), {tg['busy_calls']} calls, {tg['busy_429']} answered 429"
    )
    for name, run, latency in (("fast", fast, 1.0), ("slow", slow, args.slow)):
        floor = latency + args.chats / 30
        print(
            f"  {args.chats} chats at once, provider {latency:g} s: last photo {run['last_photo_s']} s"
            f" (floor {floor:.2f}), p50 {run['p50_s']} s, {run['delivered']} delivered,"
            f" {run['flooded_429']} 429s,"
            f" upstream start lag p50 {run['upstream_start_lag_p50_ms']} ms,"
            f" p99 {run['upstream_start_lag_p99_ms']} ms, delivery lag p99"
            f" {run['delivery_lag_p99_s']} s (the platform's floor {run['delivery_lag_floor_p99_s']} s,"
            f" beyond it {run['delivery_lag_beyond_floor_p99_s']} s),"
            f" {run['upstream_in_flight_max']} upstream at once,"
            f" {run['calls_per_picture']} calls a picture ({name})"
        )
    load = tg["steady"]
    print(
        f"  {load['in_flight']} in flight, prompts keep coming ({load['prompts_measured']} measured,"
        f" {load['in_flight_seen_p50']} drawing at their start, p50): upstream start lag p50"
        f" {load['start_lag_p50_ms']} ms, p99 {load['start_lag_p99_ms']} ms; delivery lag p50"
        f" {load['delivery_lag_p50_s']} s, p99 {load['delivery_lag_p99_s']} s; {load['flooded_429']} 429s"
    )
    group_run = tg["group"]
    print(
        f"  {args.group} members of a group: last photo {group_run['last_photo_s']} s,"
        f" {group_run['calls_per_picture']} calls a picture, {group_run['flooded_429']} 429s"
    )
    channel = dc["channel"]
    print(
        f"Discord, idle RSS {dc['idle_rss_mb']} MB; {args.group} members of a channel: last image"
        f" {channel['last_image_s']} s, {channel['rest_calls_per_picture']} REST calls a picture,"
        f" {channel['limited_429']} 429s"
    )
    if "channels" in dc:
        many = dc["channels"]
        print(
            f"  {many['count']} channels at once: last image {many['last_image_s']} s,"
            f" {many['rest_calls_per_picture']} REST calls a picture, {many['limited_429']} 429s"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--slow", type=float, default=20.0, help="the slow provider's latency, s")
    parser.add_argument("--group", type=int, default=10)
    parser.add_argument("--busy", type=int, default=20)
    parser.add_argument("--quiet", type=int, default=20)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument(
        "--steady", type=float, default=30.0, help="seconds measured with --chats in flight, prompts coming"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter that runs the bot: a venv with only the runtime dependencies"
        " (pip install .) measures memory as in production",
    )
    arguments = parser.parse_args()
    results = asyncio.run(main(arguments))
    report(results, arguments)
    print(json.dumps(results))
