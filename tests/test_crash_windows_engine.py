"""Crash windows in the engine (issue 12): a queue notice that can't strand a waiter,
variations that keep what was drawn, presses taken once in the database, buttons that act
only in their own chat, /block and /unblock, drawn-but-unsent pictures sent on recovery,
and replies to a picture whose key was never stored. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any

import pytest

from bot.backends import ChatBackend, ImagesBackend, ResponsesBackend
from bot.backends.base import ImageBackend, PartialCallback
from bot.backends.http import UpstreamClient
from bot.engine.entry import Engine
from bot.engine.limits import Limiter
from bot.engine.options import Access, EngineOptions, Limits
from bot.engine.records import MessageKey, TurnRecord, TurnStatus, UserRecord
from bot.engine.seams import Action, ActionKind, ActionPress, ChatKind
from bot.engine.store import NewTurn, Outcome
from bot.images.types import ImageRequest, ParentTurn, TurnResult
from bot.images.validation import SINGLE_IMAGE_BACKENDS
from bot.messages import render
from storage.blobs import FileBlobStore
from storage.sql import SqlStore
from tests.conftest import TEST_API_KEY, RecordingSleep
from tests.fakes.channel import CollectingChannel, RecordedProgress
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, png
from tests.test_engine import MODELS, World

MakeWorld = Callable[..., World]


def text(key: str, **params: Any) -> str:
    return render(key, "en", **params)


@pytest.fixture
async def make_world(
    store: SqlStore, fake: FakeOpenAI, file_blobs: FileBlobStore, sleeps: RecordingSleep
) -> AsyncIterator[MakeWorld]:
    """Each call is one more engine (a process) on the same database, blobs and provider."""
    built: list[World] = []

    def build(backend: str = "images", **options: Any) -> World:
        client = UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY, sleep=sleeps)
        backends: dict[str, ImageBackend] = {
            "images": ImagesBackend(client, file_blobs, [MODELS["images"]]),
            "responses": ResponsesBackend(client, file_blobs, [MODELS["responses"]]),
            "chat": ChatBackend(client, file_blobs, [MODELS["chat"]]),
        }
        engine = Engine(
            store, file_blobs, backends, EngineOptions(default_backend=backend, models=MODELS, **options)
        )
        world = World(engine, CollectingChannel(), fake, store, client, itertools.count(1))
        built.append(world)
        return world

    yield build
    for world in built:
        # Cancels what a failed test left waiting, so teardown never hangs.
        await world.engine.shutdown(0)
        await world.client.aclose()


async def until(probe: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if probe():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


class CountingBackend:
    """A backend seen from the engine's side: how many calls started, are running, were
    cancelled. With ``gate`` cleared, each call waits there before reaching the provider."""

    def __init__(self, inner: ImageBackend, gate: asyncio.Event | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.gate = gate
        self.started = 0
        self.running = 0
        self.cancelled = 0

    async def run(
        self,
        request: ImageRequest,
        parent: ParentTurn | None = None,
        *,
        on_partial: PartialCallback | None = None,
    ) -> TurnResult:
        self.started += 1
        self.running += 1
        try:
            if self.gate is not None:
                await self.gate.wait()
            return await self.inner.run(request, parent, on_partial=on_partial)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1


def counting(world: World, backend: str, gate: asyncio.Event | None = None) -> CountingBackend:
    wrapped = CountingBackend(world.engine.backends[backend], gate)
    world.engine.backends[backend] = wrapped
    return wrapped


def turn_of(world: World) -> int:
    """The turn of the last picture the bot sent."""
    return world.channel.results[-1].actions[0].turn_id


async def get(world: World, turn_id: int) -> TurnRecord:
    turn = await world.store.get_turn(turn_id)
    assert turn is not None
    return turn


# --- 1. the limiter: a queue notice can't strand a waiter ------------------------------------


async def _gets_in_at_once(limiter: Limiter) -> None:
    """The user's next slot is granted without waiting in line."""
    told: list[int] = []

    async def tell(position: int) -> None:
        told.append(position)

    async with limiter.slot("u1", "c1", tell):
        assert limiter.in_flight == 1
    assert told == [] and limiter.in_flight == 0 and limiter.waiting == 0


async def test_limiter_a_queue_notice_that_fails_leaves_no_waiter_in_line() -> None:
    limiter = Limiter(per_user=1, per_chat=4, overall=64)

    async def refuse(position: int) -> None:
        raise ConnectionError("the notice could not be sent")

    async with limiter.slot("u1", "c1"):
        with pytest.raises(ConnectionError):
            async with limiter.slot("u1", "c1", refuse):
                raise AssertionError("a failed notice must not hand out a slot")
        assert limiter.waiting == 0
    assert limiter.in_flight == 0 and limiter.waiting == 0
    await _gets_in_at_once(limiter)


def _stuck_in_its_notice(limiter: Limiter) -> tuple[asyncio.Event, Callable[[], Coroutine[Any, Any, None]]]:
    """A waiter whose "you are number N" notice never finishes: (set once it is being told,
    the waiter); it must be cancelled, and never uses a slot."""
    notifying, never = asyncio.Event(), asyncio.Event()

    async def stuck(position: int) -> None:
        notifying.set()
        await never.wait()

    async def wait_in_line() -> None:
        async with limiter.slot("u1", "c1", stuck):
            raise AssertionError("cancelled while being told its place: it never uses the slot")

    return notifying, wait_in_line


async def test_limiter_a_waiter_cancelled_during_its_queue_notice_leaves_no_waiter_in_line() -> None:
    limiter = Limiter(per_user=1, per_chat=4, overall=64)
    notifying, wait_in_line = _stuck_in_its_notice(limiter)

    async with limiter.slot("u1", "c1"):
        waiter = asyncio.create_task(wait_in_line())
        await notifying.wait()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert limiter.waiting == 0
    assert limiter.in_flight == 0 and limiter.waiting == 0
    await _gets_in_at_once(limiter)


async def test_limiter_a_waiter_handed_its_slot_during_the_notice_then_cancelled_gives_it_back() -> None:
    limiter = Limiter(per_user=1, per_chat=4, overall=64)
    notifying, wait_in_line = _stuck_in_its_notice(limiter)

    holder = limiter.slot("u1", "c1")
    await holder.__aenter__()
    waiter = asyncio.create_task(wait_in_line())
    await notifying.wait()
    await holder.__aexit__(None, None, None)  # the slot goes to the waiter, still being told
    assert limiter.in_flight == 1 and limiter.waiting == 0
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.in_flight == 0 and limiter.waiting == 0
    await _gets_in_at_once(limiter)


# --- 2. the engine: a queue notice that can't be sent -----------------------------------------


class RefusedNotice(RecordedProgress):
    def show(self, text: str, preview: bytes | None = None) -> None:
        if text.startswith(render("queued", "en", position="").split(":")[0]):
            assert isinstance(self.channel, QueueNoticeFails)
            self.channel.refused += 1
            raise ConnectionError("platform unreachable")
        super().show(text, preview)


class QueueNoticeFails(CollectingChannel):
    """The platform refuses the "you are number N in line" status."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def progress(self, reply_to: MessageKey, actions: Sequence[Action], label: str = "") -> RecordedProgress:
        return RefusedNotice(self, reply_to, actions)


async def test_a_queue_notice_that_fails_neither_breaks_the_turn_nor_strands_the_user(
    make_world: MakeWorld, fake: FakeOpenAI
) -> None:
    world = make_world(limits=Limits(per_user=1, per_chat=4, global_=64))
    channel = world.channel = QueueNoticeFails()
    # Long enough for the second to wait past the moment a status shows (2 s).
    fake.fail("slow", delay=3)
    await world.engine.handle(world.inbound("a red cat"), channel)
    await world.engine.handle(world.inbound("a blue cat"), channel)
    await world.engine.drain()

    assert channel.refused >= 1  # the second really waited, and its notice failed
    assert [colour_name(r.images[0].data) for r in channel.results] == ["red", "blue"]
    assert world.engine.limiter.waiting == 0 and world.engine.limiter.in_flight == 0
    # The user is not stuck behind a slot nobody gives back.
    await asyncio.wait_for(world.say("a green cat"), 60)
    assert colour_name(channel.results[-1].images[0].data) == "green"
    assert world.engine.limiter.in_flight == 0


# --- 3. variations on a single-image backend ----------------------------------------------


@pytest.mark.parametrize("backend", SINGLE_IMAGE_BACKENDS)
async def test_variations_keep_the_copies_drawn_when_one_fails(
    make_world: MakeWorld, fake: FakeOpenAI, backend: str
) -> None:
    world = make_world(backend)
    await world.say("a yellow duck")
    base = await get(world, turn_of(world))
    calls = counting(world, backend)

    fake.fail("moderation")  # the first copy to reach the provider is refused
    fake.fail("slow", delay=0.2, times=2)  # the other two take a while
    await world.press(ActionKind.VARIATIONS, base.id)

    result = world.channel.results[-1]
    assert len(result.images) == 2
    assert all(colour_name(image.data) == "yellow" for image in result.images)
    assert "1 of 3 could not be drawn" in result.text and "safety system" in result.text
    turn = await get(world, turn_of(world))
    assert turn.status is TurnStatus.DONE and len(turn.output_blobs) == 2
    # Only the two drawn are charged.
    assert base.created_at is not None
    images, cost = await world.store.usage("test", base.created_at, user_id="u1")
    assert images == 1 + 2
    assert cost == pytest.approx(base.cost_usd + turn.cost_usd)
    assert turn.cost_usd == pytest.approx(2 * base.cost_usd)
    # Every copy asked for was called once, and none is left running after the turn.
    asked = world.provider_calls()[1:]
    assert len(asked) == 3 and sorted(r.status for r in asked) == [200, 200, 400]
    assert calls.started == 3 and calls.running == 0


@pytest.mark.parametrize("backend", SINGLE_IMAGE_BACKENDS)
async def test_cancelling_variations_cancels_every_call(
    make_world: MakeWorld, fake: FakeOpenAI, backend: str
) -> None:
    world = make_world(backend)
    await world.say("a yellow duck")
    base = await get(world, turn_of(world))
    calls = counting(world, backend)
    fake.fail("slow", delay=30, times=3)
    await world.press(ActionKind.VARIATIONS, base.id, drain=False)
    await until(lambda: calls.started == 3 and len(world.provider_calls()) == 4, "three calls")

    # The status shows once the drawing has taken longer than a quick picture would.
    await until(lambda: bool(world.channel.of("progress")), "the status")
    variations = world.channel.of("progress")[-1].actions[0].turn_id
    await world.press(ActionKind.CANCEL, variations)

    assert calls.running == 0 and calls.cancelled == 3
    turn = await get(world, variations)
    assert turn.status is TurnStatus.CANCELLED and turn.output_blobs == []
    assert len(world.channel.results) == 1
    assert base.created_at is not None
    assert (await world.store.usage("test", base.created_at, user_id="u1"))[0] == 1


# --- 4. presses taken once, in the database --------------------------------------------------


async def _failed_turn(world: World, fake: FakeOpenAI) -> int:
    fake.fail("moderation")
    await world.say("something edgy")
    notice = world.channel.of("text")[-1]
    assert notice.actions[0].kind is ActionKind.RETRY
    return notice.actions[0].turn_id


async def test_retry_pressed_twice_at_once_draws_once(make_world: MakeWorld, fake: FakeOpenAI) -> None:
    world = make_world()
    failed = await _failed_turn(world, fake)

    await asyncio.gather(
        world.press(ActionKind.RETRY, failed, drain=False),
        world.press(ActionKind.RETRY, failed, drain=False),
    )
    await world.engine.drain()

    assert len(world.provider_calls()) == 2  # the failed call, and one retry
    assert len(world.channel.results) == 1
    assert world.channel.texts.count(text("retry_not_possible")) == 1


async def test_retry_after_a_restart_is_still_refused(make_world: MakeWorld, fake: FakeOpenAI) -> None:
    world = make_world()
    failed = await _failed_turn(world, fake)
    await world.press(ActionKind.RETRY, failed)
    assert len(world.channel.results) == 1 and len(world.provider_calls()) == 2

    restarted = make_world()  # a new process: it remembers nothing of the first retry
    await restarted.press(ActionKind.RETRY, failed)
    assert restarted.channel.texts == [text("retry_not_possible")]
    assert restarted.channel.results == [] and len(world.provider_calls()) == 2


async def test_a_retry_never_pressed_works_after_a_restart(make_world: MakeWorld, fake: FakeOpenAI) -> None:
    world = make_world()
    failed = await _failed_turn(world, fake)
    restarted = make_world()
    await restarted.press(ActionKind.RETRY, failed)
    assert len(restarted.channel.results) == 1 and len(world.provider_calls()) == 2


async def test_regenerate_double_tapped_while_drawing_draws_once(make_world: MakeWorld) -> None:
    world = make_world()
    await world.say("a blue cat")
    done = turn_of(world)
    gate = asyncio.Event()
    calls = counting(world, "images", gate)

    await world.press(ActionKind.REGENERATE, done, drain=False)
    await until(lambda: calls.started == 1, "the first press drawing")
    await world.press(ActionKind.REGENERATE, done, drain=False)
    assert world.channel.texts[-1] == text("already_drawing")
    assert calls.started == 1

    gate.set()
    await world.engine.drain()
    assert len(world.channel.results) == 2 and len(world.provider_calls()) == 2
    # Once that drawing is done, the button draws again.
    await world.press(ActionKind.REGENERATE, done)
    assert len(world.channel.results) == 3 and len(world.provider_calls()) == 3
    assert world.channel.texts.count(text("already_drawing")) == 1


# --- 5. a button pressed in another chat than its turn's ------------------------------------


@pytest.mark.parametrize("kind", [ActionKind.REGENERATE, ActionKind.VARIATIONS, ActionKind.ORIGINAL])
async def test_a_button_pressed_in_another_chat_does_nothing_there(
    make_world: MakeWorld, kind: ActionKind
) -> None:
    world = make_world()
    await world.say("a blue cat")
    forwarded = MessageKey("test", "elsewhere", "bot-forwarded")
    await world.engine.press(ActionPress(kind, turn_of(world), forwarded, "u1", "en"), world.channel)
    await world.engine.drain()

    [refusal] = world.channel.of("text")
    assert refusal.text == text("button_other_chat") and refusal.reply_to == forwarded
    assert len(world.provider_calls()) == 1
    assert len(world.channel.results) == 1 and world.channel.of("file") == []


# --- 6. /block and /unblock -----------------------------------------------------------------


async def test_block_and_unblock(make_world: MakeWorld) -> None:
    world = make_world(access=Access(admins={"test:boss"}))

    await world.say("42", command="block", user="boss")
    assert world.channel.texts[-1] == text("blocked_user", user="42")
    await world.say("a red cat", user="42")
    assert world.channel.texts[-1] == text("not_allowed") and world.provider_calls() == []

    await world.say("42", command="unblock", user="boss")
    assert world.channel.texts[-1] == text("unblocked_user", user="42")
    await world.say("a red cat", user="42")
    assert len(world.channel.results) == 1

    # Someone who is not a bot admin can't.
    await world.say("42", command="block", user="u7")
    assert world.channel.texts[-1] == text("admins_only")
    await world.say("a blue cat", user="42")
    assert len(world.channel.results) == 2


async def test_block_by_replying_to_the_users_message(make_world: MakeWorld) -> None:
    world = make_world(access=Access(admins={"test:boss"}))
    theirs = MessageKey("test", "g1", "m-of-42")
    command = world.inbound(command="block", user="boss", chat="g1", kind=ChatKind.GROUP, reply_to=theirs)
    await world.engine.handle(replace(command, reply_user_id="42"), world.channel)
    assert world.channel.texts[-1] == text("blocked_user", user="42")

    await world.say("a red cat", user="42", chat="g1", kind=ChatKind.GROUP, addressed=True)
    assert world.channel.texts[-1] == text("not_allowed") and world.provider_calls() == []


async def test_no_admin_can_be_blocked_and_a_configured_admin_never_is(make_world: MakeWorld) -> None:
    world = make_world(access=Access(admins={"test:boss", "test:deputy"}))
    await world.say("boss", command="block", user="boss")
    assert world.channel.texts[-1] == text("block_admin")
    await world.say("deputy", command="block", user="boss")
    assert world.channel.texts[-1] == text("block_admin")
    # Even blocked in the table (by hand, or before being made an admin), the operator's admin gets in.
    await world.store.put_user(UserRecord("test", "deputy", blocked=True))
    await world.say("a red cat", user="deputy")
    assert len(world.channel.results) == 1


async def test_block_wants_a_user_id_not_a_name(make_world: MakeWorld) -> None:
    world = make_world(access=Access(admins={"test:boss"}))
    for target in ("@alice", "alice smith", ""):
        await world.say(target, command="block", user="boss")
        assert world.channel.texts[-1] == text("block_usage", command="block")
    assert await world.store.user("test", "@alice") is None


async def test_help_shows_the_admin_paragraph_to_admins_only(make_world: MakeWorld) -> None:
    world = make_world(access=Access(admins={"test:boss"}))
    await world.say(command="help", user="boss")
    assert world.channel.texts[-1].endswith(text("help_admin"))
    await world.say(command="help", user="u7")
    assert "/block" not in world.channel.texts[-1] and text("help_admin") not in world.channel.texts[-1]


# --- 7. recovery sends pictures drawn but never sent ------------------------------------------


async def test_recovery_sends_the_pictures_a_dead_instance_drew_but_never_sent(
    make_world: MakeWorld, file_blobs: FileBlobStore
) -> None:
    dying = make_world()
    await dying.engine.recover({"test": dying.channel})
    prompt = MessageKey("test", "c1", "m-kite")
    created = await dying.store.create_turn(
        NewTurn(
            "test",
            "c1",
            "u1",
            "a red kite",
            "images",
            MODELS["images"],
            {"size": "auto", "quality": "auto", "output_format": "png"},
            inbound=prompt,
            locale="en",
            instance_id=dying.engine.options.instance_id,
        )
    )
    assert created is not None
    blob = await file_blobs.put(png("red"))
    # Drawn and charged; the process dies before the picture goes out.
    await dying.store.finish_turn(
        created.id, Outcome(TurnStatus.DONE, output_blobs=[blob], model=MODELS["images"], cost_usd=0.04)
    )

    # While its instance lives, the turn is its own to send.
    bystander = make_world()
    await bystander.engine.recover({"test": bystander.channel})
    assert bystander.channel.said == []

    await dying.engine.abandon()
    heir = make_world()
    await heir.engine.recover({"test": heir.channel})

    [shown] = heir.channel.results
    assert shown.reply_to == prompt and "a red kite" in shown.text
    assert [colour_name(image.data) for image in shown.images] == ["red"]
    assert shown.actions[0].kind is ActionKind.REGENERATE and shown.actions[0].turn_id == created.id
    stored = await heir.store.sent_message(shown.keys[0])
    assert stored is not None and stored.turn_id == created.id and stored.kind == "image"
    assert heir.provider_calls() == []

    # Sent once: no instance sends it again.
    await heir.engine.recover({"test": heir.channel})
    await bystander.engine.recover({"test": bystander.channel})
    late = make_world()
    await late.engine.recover({"test": late.channel})
    assert len(heir.channel.results) == 1 and bystander.channel.said == [] and late.channel.said == []
    turn = await get(heir, created.id)
    assert turn.created_at is not None
    images, cost = await heir.store.usage("test", turn.created_at, user_id="u1")
    assert images == 1 and cost == pytest.approx(0.04)


# --- 8. a reply to a picture whose key was never stored -----------------------------------------


async def test_a_reply_to_an_unstored_picture_continues_the_turn_its_buttons_name(
    make_world: MakeWorld,
) -> None:
    world = make_world()
    await world.say("a blue house")
    parent = await get(world, turn_of(world))
    unknown = MessageKey("test", "c1", "bot-never-stored")
    assert await world.store.sent_message(unknown) is None

    reply = world.inbound("make it red", reply_to=unknown)
    await world.engine.handle(replace(reply, reply_bot_picture=True, reply_turn=parent.id), world.channel)
    await world.engine.drain()

    edit = world.provider_calls()[-1]
    assert edit.path.endswith("/images/edits") and edit.input_image_hashes() == parent.output_blobs
    child = await get(world, turn_of(world))
    assert child.parent_id == parent.id and colour_name(world.channel.results[-1].images[0].data) == "red"
    stored = await world.store.sent_message(unknown)
    assert stored is not None and stored.turn_id == parent.id


async def test_a_reply_to_an_unstored_variation_continues_that_variation(make_world: MakeWorld) -> None:
    world = make_world()
    await world.say("a blue house")
    await world.press(ActionKind.VARIATIONS, turn_of(world))
    variations = await get(world, turn_of(world))
    assert len(variations.output_blobs) == 3
    unknown = MessageKey("test", "c1", "third-picture-never-stored")

    reply = world.inbound("make it red", reply_to=unknown)
    reply = replace(reply, reply_bot_picture=True, reply_turn=variations.id, reply_image=2)
    await world.engine.handle(reply, world.channel)
    await world.engine.drain()

    edit = world.provider_calls()[-1]
    assert edit.input_image_hashes() == [variations.output_blobs[2]]
    stored = await world.store.sent_message(unknown)
    assert stored is not None and stored.image_index == 2


async def test_a_reply_naming_a_turn_of_another_chat_is_not_continued(make_world: MakeWorld) -> None:
    world = make_world()
    await world.say("a blue house")
    elsewhere = turn_of(world)  # a turn of chat c1

    # One of the bot's pictures in c2 we can't place: asked, not drawn from scratch.
    key = MessageKey("test", "c2", "bot-in-c2")
    reply = world.inbound("make it red", chat="c2", reply_to=key)
    await world.engine.handle(replace(reply, reply_bot_picture=True, reply_turn=elsewhere), world.channel)
    await world.engine.drain()
    assert world.channel.texts[-1] == text("reply_picture_unknown")
    assert len(world.provider_calls()) == 1 and await world.store.sent_message(key) is None

    # A reply to a message of the bot that is no picture: a fresh drawing, not c1's turn.
    other = MessageKey("test", "c2", "bot-text-in-c2")
    reply = world.inbound("a green tree", chat="c2", reply_to=other)
    await world.engine.handle(replace(reply, reply_turn=elsewhere), world.channel)
    await world.engine.drain()
    assert world.provider_calls()[-1].path.endswith("/images/generations")
    fresh = await get(world, turn_of(world))
    assert fresh.chat_id == "c2" and fresh.parent_id is None
    assert await world.store.sent_message(other) is None


async def test_a_reply_to_a_bot_picture_that_cant_be_placed_is_asked_about(make_world: MakeWorld) -> None:
    world = make_world()
    await world.say("a blue house")
    reply = world.inbound("make it red", reply_to=MessageKey("test", "c1", "bot-unknown"))
    await world.engine.handle(replace(reply, reply_bot_picture=True), world.channel)
    await world.engine.drain()
    assert world.channel.texts[-1] == text("reply_picture_unknown")
    assert len(world.provider_calls()) == 1 and len(world.channel.results) == 1
