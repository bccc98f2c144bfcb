"""The engine with a collecting channel, the fake provider and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from bot.backends import ChatBackend, ImagesBackend, ResponsesBackend
from bot.backends.http import UpstreamClient
from bot.engine.entry import Engine
from bot.engine.options import Access, Budgets, EngineOptions, Limits
from bot.engine.records import MessageKey, TurnStatus, UserRecord
from bot.engine.seams import ActionKind, ActionPress, ChatKind, ImageInput, Inbound, SettingPick
from bot.errors import InputError
from bot.images.pricing import Inputs, PriceTable
from bot.images.types import ImageParams
from storage.blobs import FileBlobStore
from storage.sql import SqlStore
from tests.conftest import TEST_API_KEY, RecordingSleep
from tests.fakes.channel import CollectingChannel
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import colour_name, png

MODELS = {"images": "gpt-image-2", "responses": "gpt-image-2", "chat": "gpt-image-2-all"}


@dataclass
class World:
    engine: Engine
    channel: CollectingChannel
    fake: FakeOpenAI
    store: SqlStore
    client: UpstreamClient
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def inbound(
        self,
        text: str = "",
        *,
        chat: str = "c1",
        user: str = "u1",
        kind: ChatKind = ChatKind.PRIVATE,
        reply_to: MessageKey | None = None,
        images: tuple[bytes, ...] = (),
        command: str | None = None,
        addressed: bool = False,
        admin: bool = False,
        message_id: str | None = None,
    ) -> Inbound:
        def loader(data: bytes) -> ImageInput:
            async def load() -> bytes:
                return data

            return ImageInput(load, "image/png")

        return Inbound(
            key=MessageKey("test", chat, message_id or f"user-{next(self.ids)}"),
            user_id=user,
            user_name=user.title(),
            chat_kind=kind,
            text=text,
            locale="en",
            images=tuple(loader(data) for data in images),
            reply_to=reply_to,
            command=command,
            addressed=addressed,
            chat_admin=admin,
        )

    async def say(self, text: str = "", **options: Any) -> Inbound:
        inbound = self.inbound(text, **options)
        await self.engine.handle(inbound, self.channel)
        await self.engine.drain()
        return inbound

    async def press(self, kind: ActionKind, turn_id: int, user: str = "u1", drain: bool = True) -> None:
        message = MessageKey("test", "c1", "bot-pressed")
        await self.engine.press(ActionPress(kind, turn_id, message, user, "en"), self.channel)
        if drain:
            await self.engine.drain()

    def provider_calls(self) -> list[Any]:
        return [r for r in self.fake.requests if r.path.startswith("/v1/")]


MakeWorld = Callable[..., World]


async def until_called(fake: FakeOpenAI) -> None:
    """Wait until the provider has the request (progress shows before it is sent)."""
    for _ in range(500):
        if fake.requests:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the provider was never called")


async def until_status(world: World) -> int:
    """Wait for the status message; the turn its Cancel button names."""
    for _ in range(500):
        if shown := world.channel.of("progress"):
            return shown[0].actions[0].turn_id
        await asyncio.sleep(0.01)
    raise AssertionError("no status message")


@pytest.fixture
async def make_world(
    store: SqlStore, fake: FakeOpenAI, file_blobs: FileBlobStore, sleeps: RecordingSleep
) -> AsyncIterator[MakeWorld]:
    clients: list[UpstreamClient] = []

    def build(backend: str = "images", partial_images: int = 0, **options: Any) -> World:
        client = UpstreamClient(base_url=fake.base_url, api_key=TEST_API_KEY, sleep=sleeps)
        clients.append(client)
        backends = {
            "images": ImagesBackend(client, file_blobs, [MODELS["images"]], partial_images=partial_images),
            "responses": ResponsesBackend(
                client, file_blobs, [MODELS["responses"]], partial_images=partial_images
            ),
            "chat": ChatBackend(client, file_blobs, [MODELS["chat"]]),
        }
        engine = Engine(
            store, file_blobs, backends, EngineOptions(default_backend=backend, models=MODELS, **options)
        )
        return World(engine, CollectingChannel(), fake, store, client)

    yield build
    for client in clients:
        await client.aclose()


@pytest.fixture
async def world(make_world: MakeWorld) -> World:
    return make_world()


async def test_generate(world: World) -> None:
    prompt = await world.say("a blue cat")

    [result] = world.channel.results
    assert result.reply_to == prompt.key
    assert colour_name(result.images[0].data) == "blue"
    assert "a blue cat" in result.text and "💲" in result.text
    assert [a.kind for a in result.actions] == [
        ActionKind.REGENERATE,
        ActionKind.VARIATIONS,
        ActionKind.ORIGINAL,
        ActionKind.UNDO,
        ActionKind.REGION,
        ActionKind.VERSIONS,
    ]
    # A quick picture is the only message: no status before it, nothing to remove after.
    assert [said.kind for said in world.channel.said] == ["images"] and result.replaced is None
    turn = await world.store.get_turn(result.actions[0].turn_id)
    assert turn is not None and turn.status is TurnStatus.DONE and turn.cost_usd > 0
    assert turn.request_id is not None and turn.output_blobs
    images, cost = await world.store.usage("test", turn.created_at or turn.finished_at, user_id="u1")  # type: ignore[arg-type]
    assert images == 1 and cost == pytest.approx(turn.cost_usd)


async def test_a_slow_picture_shows_a_status_that_the_picture_then_replaces(
    make_world: MakeWorld, fake: FakeOpenAI
) -> None:
    world = make_world(status_after_s=0.2, progress_every_s=10)
    fake.fail("slow", delay=0.6)
    prompt = world.inbound("a green owl")
    await world.engine.handle(prompt, world.channel)
    await until_called(fake)
    # The provider has the request; the status is not up yet (it waits status_after_s).
    assert world.channel.of("progress") == []
    turn_id = await until_status(world)
    await world.engine.drain()

    [status] = world.channel.of("progress")
    assert status.reply_to == prompt.key and "Drawing" in status.text
    assert [a.kind for a in status.actions] == [ActionKind.CANCEL] and status.actions[0].turn_id == turn_id
    [result] = world.channel.results
    assert result.replaced == status.key and result.keys == [status.key]
    assert world.channel.of("clear") == []


async def test_a_picture_slower_than_notify_after_comes_as_a_new_message(
    make_world: MakeWorld, fake: FakeOpenAI
) -> None:
    """An edit does not notify: a long wait ends with a new message, and the status goes."""
    world = make_world(status_after_s=0.05, notify_after_s=0.2)
    fake.fail("slow", delay=0.4)
    await world.say("a grey whale")
    [status] = world.channel.of("progress")
    [result] = world.channel.results
    assert result.replaced is None and status.key not in result.keys
    assert [said.key for said in world.channel.of("clear")] == [status.key]


@pytest.mark.parametrize("backend", ["images", "responses", "chat"])
async def test_a_five_deep_chain_of_replies(make_world: MakeWorld, backend: str) -> None:
    world = make_world(backend)
    await world.say("a blue house")
    for colour in ("red", "green", "yellow", "purple"):
        await world.say(f"now make it {colour}", reply_to=world.channel.last_image_key())

    colours = [colour_name(result.images[0].data) for result in world.channel.results]
    assert colours == ["blue", "red", "green", "yellow", "purple"]
    last = world.channel.results[-1].actions[0].turn_id
    lineage = await world.store.lineage(last)
    assert [turn.prompt for turn in lineage] == [
        "a blue house",
        "now make it red",
        "now make it green",
        "now make it yellow",
        "now make it purple",
    ]


@pytest.mark.parametrize("backend", ["images", "responses"])
async def test_branch_from_version_2_of_5(make_world: MakeWorld, backend: str) -> None:
    world = make_world(backend)
    await world.say("a blue house")
    for colour in ("red", "green", "yellow", "purple"):
        await world.say(f"make it {colour}", reply_to=world.channel.last_image_key())
    version_2 = world.channel.results[1]
    turn_2 = await world.store.get_turn(version_2.actions[0].turn_id)
    assert turn_2 is not None

    await world.say("add a moon", reply_to=version_2.keys[0])

    sent = world.provider_calls()[-1]
    if backend == "responses":
        assert sent.json["previous_response_id"] == turn_2.state["response_id"]
    else:
        assert sent.input_image_hashes() == turn_2.output_blobs
    assert colour_name(world.channel.results[-1].images[0].data) == "red"
    branch = await world.store.get_turn(world.channel.results[-1].actions[0].turn_id)
    assert branch is not None and branch.parent_id == turn_2.id


async def test_private_follow_ups_continue_until_new(world: World) -> None:
    await world.say("a green tree")
    await world.say("make it orange")  # no reply: continues the latest turn in a private chat
    assert world.provider_calls()[-1].path.endswith("/images/edits")
    assert colour_name(world.channel.results[-1].images[0].data) == "orange"

    await world.say(command="new")
    assert "New conversation" in world.channel.texts[-1]
    await world.say("a tree")
    assert world.provider_calls()[-1].path.endswith("/images/generations")


async def test_restyle_a_photo_and_fuse_three(world: World) -> None:
    photo = png("pink", (96, 96))
    await world.say("as a watercolour", images=(photo,))
    restyle = world.provider_calls()[-1]
    assert restyle.path.endswith("/images/edits") and restyle.files[0].data == photo
    assert colour_name(world.channel.results[-1].images[0].data) == "pink"

    photos = (png("red"), png("green"), png("blue"))
    await world.say("blend these", images=photos)
    assert [f.data for f in world.provider_calls()[-1].files] == list(photos)


async def test_regenerate_variations_original_undo(world: World) -> None:
    await world.say("a blue cat")
    await world.say("make it red", reply_to=world.channel.last_image_key())
    edit = world.channel.results[-1]
    edit_turn = edit.actions[0].turn_id

    await world.press(ActionKind.REGENERATE, edit_turn)
    again = world.provider_calls()[-1]
    assert again.field_values["prompt"] == "make it red"
    assert again.input_image_hashes() == world.provider_calls()[-2].input_image_hashes()  # same parent
    regenerated = await world.store.get_turn(world.channel.results[-1].actions[0].turn_id)
    assert regenerated is not None and regenerated.action == "regenerate"

    await world.press(ActionKind.VARIATIONS, edit_turn)
    assert world.provider_calls()[-1].field_values["n"] == "3"
    assert len(world.channel.results[-1].images) == 3

    await world.press(ActionKind.ORIGINAL, edit_turn)
    original = world.channel.of("file")[-1]
    assert colour_name(original.data) == "red" and original.text.endswith(".png")

    await world.press(ActionKind.UNDO, edit_turn)
    undone = world.channel.results[-1]
    assert colour_name(undone.images[0].data) == "blue" and "Back to the previous version" in undone.text
    await world.say("make it green")  # a follow-up continues from the version undo showed
    blue = await world.store.get_turn(world.channel.results[0].actions[0].turn_id)
    assert blue is not None
    assert world.provider_calls()[-1].input_image_hashes() == blue.output_blobs
    green = await world.store.get_turn(world.channel.results[-1].actions[0].turn_id)
    assert green is not None and green.parent_id == blue.id


async def test_variations_on_a_single_image_backend_are_parallel_calls(make_world: MakeWorld) -> None:
    world = make_world("responses")
    await world.say("a yellow duck")
    await world.press(ActionKind.VARIATIONS, world.channel.results[-1].actions[0].turn_id)
    assert len(world.channel.results[-1].images) == 3
    assert len(world.provider_calls()) == 4
    # A reply to the second variation continues from that variation's own response.
    turn = await world.store.get_turn(world.channel.results[-1].actions[0].turn_id)
    assert turn is not None
    await world.say("make it red", reply_to=world.channel.results[-1].keys[1])
    assert world.provider_calls()[-1].json["previous_response_id"] == turn.state["variants"][1]["response_id"]


async def test_the_same_inbound_twice_runs_once(world: World) -> None:
    duplicate = world.inbound("a blue cat", message_id="m-42")
    await world.engine.handle(duplicate, world.channel)
    await world.engine.handle(duplicate, world.channel)
    await world.engine.drain()
    await world.engine.handle(duplicate, world.channel)
    await world.engine.drain()

    assert len(world.provider_calls()) == 1
    assert len(world.channel.results) == 1
    turn = await world.store.get_turn(world.channel.results[0].actions[0].turn_id)
    assert turn is not None and turn.created_at is not None
    assert (await world.store.usage("test", turn.created_at, user_id="u1"))[0] == 1


async def test_a_crash_mid_call_then_retry(make_world: MakeWorld, fake: FakeOpenAI) -> None:
    # The status shows at once: its Cancel button names the turn.
    first = make_world(status_after_s=0)
    fake.fail("slow", delay=30)
    prompt = first.inbound("a purple crab")
    await first.engine.handle(prompt, first.channel)
    await until_called(fake)
    turn_id = await until_status(first)
    # The process dies: its task stops and writes nothing more.
    lose_database(first.engine)
    first.engine.cancel(turn_id)
    await first.engine.drain()

    second = make_world()
    interrupted = await second.engine.recover({"test": second.channel})
    assert [turn.id for turn in interrupted] == [turn_id]
    notice = second.channel.of("text")[0]
    assert notice.reply_to == prompt.key and "restarted" in notice.text
    assert notice.actions[0].kind is ActionKind.RETRY
    turn = await second.store.get_turn(turn_id)
    assert turn is not None and turn.status is TurnStatus.INTERRUPTED

    await second.press(ActionKind.RETRY, turn_id)
    [result] = second.channel.results
    assert colour_name(result.images[0].data) == "purple" and result.reply_to == prompt.key


def lose_database(engine: Engine) -> None:
    """Every part of the engine that holds the store now holds a dead one."""
    dead = _Dead()
    for part in [engine, *vars(engine).values()]:
        if hasattr(part, "store"):
            part.store = dead


class _Dead:
    def __getattr__(self, name: str) -> Any:
        async def refuse(*args: Any, **kwargs: Any) -> None:
            raise ConnectionError("the process is gone")

        return refuse


async def test_user_and_chat_budgets_refuse_before_calling(make_world: MakeWorld) -> None:
    world = make_world(budgets=Budgets(user_daily=0.05))
    await world.say("a red fox", message_id="m1")  # auto quality is estimated as high: $0.125
    assert world.provider_calls() == []
    assert "daily budget" in world.channel.texts[-1] and "resets at 00:00 UTC" in world.channel.texts[-1]

    world = make_world(budgets=Budgets(chat_monthly=0.05))
    await world.say("a red fox", message_id="m2")
    assert world.provider_calls() == []
    assert "monthly budget" in world.channel.texts[-1]


async def test_budget_allows_then_refuses_once_spent(make_world: MakeWorld) -> None:
    world = make_world(budgets=Budgets(user_daily=0.2))
    await world.say(command="settings", text="quality low")
    await world.say("a red fox")
    await world.say("a blue fox")
    assert len(world.channel.results) == 2  # low quality: cheap
    await world.say(command="settings", text="quality high")
    await world.say("a green fox")
    assert "daily budget" in world.channel.texts[-1]
    await world.say(command="usage")
    assert "today 2 images" in world.channel.texts[-1]


async def test_the_reservation_counts_the_pictures_sent(make_world: MakeWorld) -> None:
    world = make_world(budgets=Budgets(user_daily=0.2))
    await world.say(command="settings", text="size 1024x1024")
    await world.say("a red fox")  # a high-quality square: about $0.125, within the budget
    assert len(world.channel.results) == 1
    # Three photos are billed as input too (at high fidelity on gpt-image-2): over the budget.
    photos = tuple(png(colour, (1024, 1024)) for colour in ("red", "green", "blue"))
    await world.say("combine them", images=photos, user="u2")
    assert len(world.provider_calls()) == 1
    assert "daily budget" in world.channel.texts[-1] and "needs about $0.28" in world.channel.texts[-1]


async def test_a_charge_above_its_reservation_is_logged_with_both_figures(
    make_world: MakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world()
    await world.say(command="settings", text="quality low")
    # The fake bills 4,160 output tokens, a high-quality square, whatever the quality asked.
    with caplog.at_level(logging.WARNING, logger="bot.images.pricing"):
        await world.say("a red fox")
    [result] = world.channel.results
    turn = await world.store.get_turn(result.actions[0].turn_id)
    assert turn is not None and turn.cost_usd == pytest.approx((50 * 5 + 4160 * 30) / 1e6)
    estimate = PriceTable().estimate("gpt-image-2", ImageParams(quality="low"), inputs=Inputs(9))
    [warning] = [record.getMessage() for record in caplog.records if record.name == "bot.images.pricing"]
    assert f"${turn.cost_usd:.6f}" in warning and f"${estimate:.6f}" in warning


async def test_concurrency_limit_queues_with_a_place(make_world: MakeWorld, fake: FakeOpenAI) -> None:
    world = make_world(limits=Limits(per_user=1, per_chat=4, global_=64), status_after_s=0.1)
    fake.fail("slow", delay=0.4, times=2)
    first, second = world.inbound("a red cat"), world.inbound("a blue cat")
    await world.engine.handle(first, world.channel)
    await world.engine.handle(second, world.channel)
    await world.engine.drain()

    # The place in line is the waiting picture's status, not a message of its own.
    assert world.channel.texts == []
    [waiting] = [said for said in world.channel.of("progress") if said.reply_to == second.key]
    assert "number 1 in line" in waiting.text
    later = [said.text for said in world.channel.of("update") if said.key == waiting.key]
    assert any("Drawing" in text for text in later)
    assert [colour_name(r.images[0].data) for r in world.channel.results] == ["red", "blue"]
    # Each picture took its status message's place.
    assert world.channel.results[1].replaced == waiting.key


async def test_cancel_stops_the_call_and_charges_nothing(make_world: MakeWorld, fake: FakeOpenAI) -> None:
    world = make_world(status_after_s=0.05)
    fake.fail("slow", delay=30)
    await world.engine.handle(world.inbound("a black cat"), world.channel)
    await until_called(fake)
    turn_id = await until_status(world)
    await world.press(ActionKind.CANCEL, turn_id, user="someone-else", drain=False)
    assert "Only the person" in world.channel.texts[-1]
    await world.press(ActionKind.CANCEL, turn_id)

    turn = await world.store.get_turn(turn_id)
    assert turn is not None and turn.status is TurnStatus.CANCELLED
    assert "Cancelled" in world.channel.texts[-1] and world.channel.results == []
    # The status message became the answer: one message, not a new one and a removal.
    assert world.channel.of("text")[-1].replaced == world.channel.of("progress")[0].key
    assert world.channel.of("clear") == []
    assert turn.created_at is not None
    assert await world.store.usage("test", turn.created_at, user_id="u1") == (0, 0.0)


async def test_cancel_command(world: World, fake: FakeOpenAI) -> None:
    await world.say(command="cancel")
    assert "Nothing of yours" in world.channel.texts[-1]
    fake.fail("slow", delay=30)
    await world.engine.handle(world.inbound("a black cat"), world.channel)
    await until_called(fake)
    await world.say(command="cancel")
    assert "Cancelled" in world.channel.texts[-1]


async def test_progress_ticks_and_partial_previews(make_world: MakeWorld, fake: FakeOpenAI) -> None:
    world = make_world(partial_images=2, progress_every_s=0.05, status_after_s=0)
    fake.fail("slow", delay=0.3)
    await world.say("a cyan square")
    updates = world.channel.of("progress") + world.channel.of("update")
    assert sum(1 for u in updates if u.preview is None) >= 2  # elapsed time
    previews = [u for u in updates if u.preview is not None]
    # Two previews were streamed; one that is overtaken before it is shown is dropped.
    assert 1 <= len(previews) <= 2 and colour_name(previews[-1].preview or b"") == "cyan"
    assert all("Drawing" in u.text for u in updates)


async def test_groups_answer_only_when_addressed(world: World) -> None:
    await world.say("a red car", kind=ChatKind.GROUP)
    assert world.channel.said == [] and world.provider_calls() == []

    await world.say("a red car", kind=ChatKind.GROUP, addressed=True)
    assert len(world.channel.results) == 1
    # A reply to the bot's image needs no mention.
    await world.say("make it blue", kind=ChatKind.GROUP, reply_to=world.channel.last_image_key(), user="u2")
    assert colour_name(world.channel.results[-1].images[0].data) == "blue"
    # A plain follow-up in a group is not a continuation, and not addressed.
    await world.say("and green", kind=ChatKind.GROUP)
    assert len(world.channel.results) == 2


async def test_settings_are_obeyed_and_admin_only_in_groups(world: World) -> None:
    await world.say(command="settings", text="size 1536x1024", kind=ChatKind.GROUP, addressed=True)
    assert "Only this chat's admins" in world.channel.texts[-1]
    await world.say(command="settings", text="size 1536x1024", kind=ChatKind.GROUP, admin=True)
    assert "Saved" in world.channel.texts[-1]
    await world.say(command="settings", text="size 1000x1000", kind=ChatKind.GROUP, admin=True)
    assert "multiples of 16" in world.channel.texts[-1]
    await world.say(command="settings", text="colour red", kind=ChatKind.GROUP, admin=True)
    assert "don't know the setting" in world.channel.texts[-1]

    await world.say("a wide landscape", kind=ChatKind.GROUP, addressed=True)
    assert world.provider_calls()[-1].json["size"] == "1536x1024"
    assert world.channel.results[-1].images[0].width == 1536


async def test_allowlist(make_world: MakeWorld) -> None:
    world = make_world(access=Access(allowed_users={"test:vip"}))
    await world.say("a cat", user="stranger")
    assert "isn't open to you" in world.channel.texts[-1] and world.provider_calls() == []
    await world.say("a cat", user="vip")
    assert len(world.channel.results) == 1


async def test_bad_input_is_explained_without_a_call(world: World) -> None:
    await world.say("x" * 40_000)
    assert "40000 characters; the limit is 32000" in world.channel.texts[-1]
    assert world.channel.of("text")[-1].actions == []  # nothing to retry: the input must change
    await world.say("restyle this", images=(b"not an image",))
    assert "isn't a picture I can read" in world.channel.texts[-1]
    assert world.provider_calls() == []


async def test_upstream_failure_offers_retry_that_works(world: World, fake: FakeOpenAI) -> None:
    fake.fail("moderation")
    await world.say("something edgy")
    notice = world.channel.of("text")[-1]
    assert "safety system" in notice.text and notice.actions[0].kind is ActionKind.RETRY
    failed = await world.store.get_turn(notice.actions[0].turn_id)
    assert (
        failed is not None and failed.status is TurnStatus.FAILED and failed.error_kind == "content_blocked"
    )
    assert failed.request_id is not None

    await world.press(ActionKind.RETRY, failed.id)
    assert len(world.channel.results) == 1
    await world.press(ActionKind.RETRY, failed.id)  # a second tap draws nothing more
    assert len(world.channel.results) == 1 and "can't be retried" in world.channel.texts[-1]


async def test_history_of_a_replied_image(world: World) -> None:
    await world.say("a blue boat")
    await world.say("make it red", reply_to=world.channel.last_image_key())
    await world.say(command="history", reply_to=world.channel.last_image_key())
    # The versions as a contact sheet, captioned with the steps, and no buttons.
    sheet = world.channel.of("images")[-1]
    assert "2 steps" in sheet.text and "1. a blue boat" in sheet.text and sheet.actions == []
    assert sheet.images[0].mime == "image/jpeg" and sheet.images[0].width > 0
    # Without a reply: the chat's latest picture, until /new.
    await world.say(command="history")
    assert "2 steps" in world.channel.of("images")[-1].text
    await world.say(command="new")
    await world.say(command="history")
    assert "no picture here yet" in world.channel.texts[-1]


async def test_with_the_web_pages_a_sheet_carries_all_versions(make_world: MakeWorld) -> None:
    world = make_world(pages=True)
    await world.say("a blue boat")
    await world.say("make it red", reply_to=world.channel.last_image_key())
    await world.say(command="history")
    sheet = world.channel.of("images")[-1]
    turn = world.channel.results[-2].actions[0].turn_id
    # On the sheet itself: no message of its own for the link.
    assert [(a.kind, a.turn_id) for a in sheet.actions] == [(ActionKind.ALL_VERSIONS, turn)]
    assert sheet.actions[0].label == "🌳 All versions"


async def test_a_blocked_user_is_refused(world: World) -> None:
    await world.store.put_user(UserRecord("test", "troll", blocked=True))
    await world.say("a cat", user="troll")
    assert "isn't open to you" in world.channel.texts[-1] and world.provider_calls() == []
    await world.store.put_user(UserRecord("test", "troll", blocked=False))
    await world.say("a cat", user="troll")
    assert len(world.channel.results) == 1


async def test_button_labels_are_in_the_users_language(make_world: MakeWorld, fake: FakeOpenAI) -> None:
    world = make_world(status_after_s=0)
    fake.fail("slow", delay=0.2)
    inbound = replace(world.inbound("一只蓝色的猫 blue"), locale="zh-CN")
    await world.engine.handle(inbound, world.channel)
    await world.engine.drain()
    assert [a.label for a in world.channel.results[0].actions] == [
        "🔁 重画", "🎲 变体", "📎 原图", "↩️ 撤销", "✏️ 编辑区域", "🌳 版本",
    ]  # fmt: skip
    assert world.channel.of("progress")[0].actions[0].label == "✖ 取消"


async def test_a_settings_refusal_quotes_long_input_cut_short(world: World) -> None:
    await world.say(command="settings", text="x" * 5000)
    await world.say(command="settings", text="quality " + "y" * 5000)
    unknown, bad_value = world.channel.texts[-2:]
    assert "don't know the setting" in unknown and "x" * 39 + "…" in unknown and "x" * 41 not in unknown
    assert "y" * 39 + "…" in bad_value and "y" * 41 not in bad_value
    assert len(unknown) < 400 and len(bad_value) < 400


async def test_settings_view_and_picks(world: World) -> None:
    await world.say(command="settings")
    view = world.channel.of("settings")[0].view
    assert view is not None and "Tap to change" in view.text
    groups = {group.name: group for group in view.groups}
    assert list(groups) == ["backend", "size", "quality", "format"]
    assert groups["size"].current == "auto"
    assert ("1536x1024", "3:2") in [(o.value, o.label) for o in groups["size"].options]
    assert ("3840x2160", "16:9 4K") in [(o.value, o.label) for o in groups["size"].options]

    chat = MessageKey("test", "c1", "bot-settings")
    outcome = await world.engine.pick_setting(SettingPick(chat, "u1", ChatKind.PRIVATE, "size", "1536x1024"))
    assert outcome.view is not None and not outcome.refused and "Saved" in outcome.notice
    assert {g.name: g.current for g in outcome.view.groups}["size"] == "1536x1024"
    again = await world.engine.pick_setting(SettingPick(chat, "u1", ChatKind.PRIVATE, "size", "1536x1024"))
    assert again.view is None and not again.refused and "Already" in again.notice
    bad = await world.engine.pick_setting(SettingPick(chat, "u1", ChatKind.PRIVATE, "quality", "ultra"))
    assert bad.refused and "isn't a valid quality" in bad.notice

    group = MessageKey("test", "g1", "bot-settings")
    member = await world.engine.pick_setting(SettingPick(group, "u2", ChatKind.GROUP, "quality", "low"))
    assert member.refused and "Only this chat's admins" in member.notice
    admin = await world.engine.pick_setting(
        SettingPick(group, "u2", ChatKind.GROUP, "quality", "low", chat_admin=True)
    )
    assert admin.view is not None

    await world.say("a wide green field")
    assert world.provider_calls()[-1].json["size"] == "1536x1024"


async def test_unsupported_input_and_unknown_commands_are_answered(world: World) -> None:
    await world.engine.handle(replace(world.inbound("draw this"), unsupported="sticker"), world.channel)
    assert "not stickers" in world.channel.texts[-1]
    await world.engine.handle(replace(world.inbound(), unsupported="hologram"), world.channel)
    assert "not this kind of message" in world.channel.texts[-1]
    # In a group, only when addressed.
    said = len(world.channel.said)
    await world.engine.handle(replace(world.inbound(kind=ChatKind.GROUP), unsupported="voice"), world.channel)
    assert len(world.channel.said) == said
    await world.say(command="frobnicate")
    assert "I don't know the command /frobnicate" in world.channel.texts[-1]
    assert world.provider_calls() == []


async def test_a_bare_photo_is_asked_about_and_a_failed_download_explained(world: World) -> None:
    await world.say(images=(png("blue"),))
    assert "What should I do with it" in world.channel.texts[-1] and world.provider_calls() == []

    async def broken() -> bytes:
        raise InputError("gone", key="download_failed")

    await world.engine.handle(
        replace(world.inbound("make it red"), images=(ImageInput(broken),)), world.channel
    )
    assert "couldn't fetch your picture" in world.channel.texts[-1] and world.provider_calls() == []


async def test_shutdown_interrupts_with_retry_and_lets_fast_turns_finish(
    world: World, fake: FakeOpenAI
) -> None:
    fake.fail("slow", delay=30)
    inbound = world.inbound("a slow red train")
    await world.engine.handle(inbound, world.channel)
    await until_called(fake)
    await world.engine.shutdown(grace_s=0.1)
    notice = world.channel.of("text")[-1]
    assert "restarting and stopped drawing" in notice.text and notice.reply_to == inbound.key
    assert notice.actions[0].kind is ActionKind.RETRY
    turn = await world.store.get_turn(notice.actions[0].turn_id)
    assert turn is not None and turn.status is TurnStatus.INTERRUPTED
    # Nothing is left for recovery to report a second time.
    assert await world.store.interrupt_unfinished() == []
    await world.press(ActionKind.RETRY, turn.id)
    assert colour_name(world.channel.results[-1].images[0].data) == "red"

    fake.fail("slow", delay=0.3)
    await world.engine.handle(world.inbound("a quick blue train"), world.channel)
    await until_called(fake)
    await world.engine.shutdown(grace_s=10)
    assert colour_name(world.channel.results[-1].images[0].data) == "blue"


class FlakyChannel(CollectingChannel):
    """Sending pictures fails the first time (the platform down for a moment)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def send_images(self, *args: Any, **kwargs: Any) -> list[MessageKey]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("platform unreachable")
        return await super().send_images(*args, **kwargs)


async def test_a_failed_delivery_is_resent_not_redrawn(world: World) -> None:
    world.channel = FlakyChannel()
    await world.say("a red kite")
    notice = world.channel.of("text")[-1]
    assert "couldn't send it here" in notice.text and notice.actions[0].kind is ActionKind.RETRY
    turn = await world.store.get_turn(notice.actions[0].turn_id)
    assert turn is not None and turn.status is TurnStatus.DONE and turn.cost_usd > 0

    await world.press(ActionKind.RETRY, turn.id)
    [result] = world.channel.results
    assert colour_name(result.images[0].data) == "red" and result.reply_to == turn.inbound
    assert len(world.provider_calls()) == 1  # sent again, not drawn again
    images, cost = await world.store.usage("test", turn.created_at, user_id="u1")  # type: ignore[arg-type]
    assert images == 1 and cost == pytest.approx(turn.cost_usd)
    # A reply to the resent picture continues from it.
    await world.say("make it blue", reply_to=world.channel.last_image_key())
    assert colour_name(world.channel.results[-1].images[0].data) == "blue"


async def test_a_reply_that_overtakes_the_pictures_keys_still_finds_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A picture with no buttons (a variation above the last) replied to within moments of
    being sent, before the write storing its key is done: the reply waits for it rather than
    answering that it can't place the picture."""
    stored = asyncio.Event()
    delivered = world.store.delivered

    async def slow_delivered(*args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0.5)
        await delivered(*args, **kwargs)
        stored.set()

    monkeypatch.setattr(world.store, "delivered", slow_delivered)
    await world.engine.handle(world.inbound("a blue fox"), world.channel)
    for _ in range(500):
        if world.channel.results:
            break
        await asyncio.sleep(0.01)
    reply = replace(
        world.inbound("make it red", reply_to=world.channel.last_image_key()), reply_bot_picture=True
    )
    assert not stored.is_set()
    await world.engine.handle(reply, world.channel)
    await world.engine.drain()
    assert "reply_picture_unknown" not in " ".join(world.channel.texts)
    assert len(world.channel.results) == 2
    assert colour_name(world.channel.results[-1].images[0].data) == "red"
