"""The conversation engine: one entry for messages (:meth:`Engine.handle`), one for
buttons (:meth:`Engine.press`), and crash recovery (:meth:`Engine.recover`).

A message becomes a call in this order: addressed? allowed? → the parent, found
by the key of the message it replies to → the turn is stored (``queued``) under
the inbound key, so a redelivered update never runs twice → validation and the
budget, before any spending → a concurrency slot (with a place in line) → the
backend call, with progress every few seconds and partial previews → the
images are sent, each message key stored against the turn, and the charge
written with the turn's outcome in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import imaging, metrics
from bot.backends.base import ImageBackend
from bot.blobs import BlobNotFound, BlobStore
from bot.engine.inbound import (
    Access,
    Action,
    ActionKind,
    ActionPress,
    Budgets,
    Channel,
    ChatKind,
    Inbound,
    Limits,
    OutgoingImage,
    SettingGroup,
    SettingOption,
    SettingOutcome,
    SettingPick,
    SettingsView,
)
from bot.engine.language import effective, language_command
from bot.engine.limits import Limiter
from bot.engine.records import ChatState, MessageKey, SentMessage, TurnRecord, TurnStatus, UserRecord
from bot.engine.status import Status
from bot.engine.store import NewTurn, Outcome, Reception, SlotRequest, SlotStatus, Store
from bot.errors import InputError, RedrawError, UpstreamError
from bot.logs import current_turn
from bot.messages import MESSAGES, render, render_error
from bot.models import image_model, size_label
from bot.pricing import PriceTable, Quote
from bot.types import (
    MIME_EXTENSIONS,
    GeneratedImage,
    ImageParams,
    ImageRequest,
    ParentTurn,
    PartialImage,
    TurnResult,
)
from bot.validation import (
    OUTPUT_FORMATS,
    QUALITIES,
    SINGLE_IMAGE_BACKENDS,
    check_quality,
    check_size,
    check_upfront,
    prepare_request,
)

log = logging.getLogger(__name__)

RESULT_ACTIONS = (ActionKind.REGENERATE, ActionKind.VARIATIONS, ActionKind.ORIGINAL, ActionKind.UNDO)
SETTING_NAMES = ("backend", "size", "quality", "format")
# Commands the engine answers; anything else gets a pointer to /help. "imagine" is Discord's /draw.
COMMANDS = (
    "start",
    "help",
    "draw",
    "imagine",
    "new",
    "usage",
    "history",
    "cancel",
    "settings",
    "block",
    "unblock",
    "language",
)
CAPTION_PROMPT_CHARS = 200
# What a Retry redraws; a done turn's Retry sends its stored pictures instead.
RETRIABLE = (TurnStatus.FAILED, TurnStatus.INTERRUPTED)
# Rows of instances that stopped without retiring are kept a day, for a look at what died.
DEAD_INSTANCES_KEPT_S = 24 * 3600.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_instance_id() -> str:
    """Unique per process, readable in the database: host, pid and a random tail."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _actions(kinds: Sequence[ActionKind], turn_id: int, locale: str | None) -> list[Action]:
    return [Action(kind, turn_id, render(f"button_{kind.value}", locale)) for kind in kinds]


def _render_for(platform: str, key: str, locale: str | None, **params: Any) -> str:
    """``key``'s text, or the platform's own wording of it (``help_discord``: slash commands)."""
    own = f"{key}_{platform}"
    return render(own if own in MESSAGES else key, locale, **params)


def _short(text: str, limit: int = CAPTION_PROMPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class EngineOptions:
    default_backend: str = "responses"
    # The image model each backend uses.
    models: Mapping[str, str] = field(default_factory=lambda: {"responses": "gpt-image-2"})
    limits: Limits = field(default_factory=Limits)
    budgets: Budgets = field(default_factory=Budgets)
    access: Access = field(default_factory=Access)
    prices: PriceTable = field(default_factory=PriceTable)
    # A picture that takes longer than this gets a status message (in line, drawing, previews);
    # a quicker one costs the chat one message, itself.
    status_after_s: float = 2.0
    progress_every_s: float = 5.0
    # A picture that took longer than this arrives as a new message, which notifies the
    # user; a quicker one takes its status message's place (an edit, which does not).
    notify_after_s: float = 30.0
    variations: int = 3
    # This process among the instances sharing the database.
    instance_id: str = field(default_factory=new_instance_id)
    # An instance silent this long is gone: its unfinished turns are interrupted (with Retry).
    lease_s: float = 90.0
    heartbeat_s: float = 15.0
    # A turn waiting for a slot another instance holds looks again this often.
    slot_poll_s: float = 1.0
    # Updates already taken are remembered this long (Telegram redelivers for up to a day).
    deliveries_kept_s: float = 2 * 24 * 3600.0
    # Pictures drawn but never sent (a crash between the charge and the photo) are sent on
    # recovery when they are at most this old; older ones wait for the user's Retry.
    undelivered_kept_s: float = 24 * 3600.0


@dataclass
class _Job:
    """A turn being worked on: where it answers, and what it starts from."""

    turn: TurnRecord
    channel: Channel
    # The user's message the answers reply to.
    reply_to: MessageKey
    uploads: list[bytes]
    parent: TurnRecord | None
    task: asyncio.Task[None] | None = None
    # Set once results are in: from then on the turn is paid for and cannot be cancelled.
    delivering: bool = False
    # Cancelled by a shutdown rather than by the user: the turn is interrupted, with Retry.
    interrupted: bool = False
    # How it ended, once written.
    outcome: Outcome | None = None
    # What the chat sees while it waits and draws.
    status: Status | None = None
    started: float = field(default_factory=time.monotonic)


class Engine:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        backends: Mapping[str, ImageBackend],
        options: EngineOptions | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.backends = dict(backends)
        self.options = options or EngineOptions()
        self.clock = clock
        limits = self.options.limits
        self.limiter = Limiter(limits.per_user, limits.per_chat, limits.global_)
        self._jobs: dict[int, _Job] = {}
        # Set (and replaced) whenever a turn of this process ends: its waiters look again.
        self._slot_freed = asyncio.Event()
        # Where each platform's chats are told about turns recovered from dead instances.
        self._channels: dict[str, Channel] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._last_beat: float | None = None

    # --- entry points ---------------------------------------------------------

    async def handle(self, inbound: Inbound, channel: Channel) -> None:
        """Everything a user sends goes through here."""
        # The bot's message being replied to, if any: it addresses the bot and names the parent.
        replied = await self._replied(inbound)
        if not self._addressed(inbound, replied):
            return
        chat, user = await self.store.context(inbound.key.platform, inbound.key.chat_id, inbound.user_id)
        platform_locale = inbound.locale
        inbound = replace(inbound, locale=effective(user, inbound.locale))  # /language overrides
        if not self._permits(inbound.key.platform, inbound.user_id, inbound.key.chat_id, user):
            await channel.send_text(inbound.key, render("not_allowed", inbound.locale))
            return
        command = inbound.command
        if inbound.unsupported is not None:
            kind = f"unsupported_{inbound.unsupported}"
            what = render(kind if kind in MESSAGES else "unsupported_other", inbound.locale)
            await channel.send_text(inbound.key, render("unsupported_input", inbound.locale, what=what))
        elif command is not None and command not in COMMANDS:
            await channel.send_text(inbound.key, render("unknown_command", inbound.locale, command=command))
        elif command in ("start", "help"):
            text = _render_for(inbound.key.platform, "help", inbound.locale)
            if await self._bot_admin(inbound.key.platform, inbound.user_id):
                text += render("help_admin", inbound.locale)
            await channel.send_text(inbound.key, text)
        elif command == "new":
            await self.store.update_chat(*inbound.chat, clear_latest=True)
            await channel.send_text(inbound.key, render("new_conversation", inbound.locale))
        elif command == "usage":
            await channel.send_text(inbound.key, await self._usage_text(inbound))
        elif command == "history":
            await channel.send_text(inbound.key, await self._history_text(inbound, replied, chat))
        elif command == "cancel":
            await self._cancel_mine(inbound, channel)
        elif command in ("block", "unblock"):
            await channel.send_text(inbound.key, await self._block(inbound, blocked=command == "block"))
        elif command == "language":
            text = await language_command(
                self.store, inbound.key.platform, inbound.user_id, inbound.text, platform_locale
            )
            await channel.send_text(inbound.key, text)
        elif command == "settings" and not inbound.text.strip():
            await channel.send_settings(inbound.key, await self.settings_view(inbound.chat, inbound.locale))
        elif command == "settings":
            await channel.send_text(inbound.key, await self._settings_command(inbound))
        else:
            await self._prompt(inbound, channel, chat, replied)

    async def press(self, press: ActionPress, channel: Channel) -> None:
        """A button on one of the bot's messages."""
        turn = await self.store.get_turn(press.turn_id)
        if turn is None:
            await channel.send_text(press.message, render("turn_missing", press.locale))
            return
        user = await self.store.user(turn.platform, press.user_id)
        press = replace(press, locale=effective(user, press.locale))  # /language overrides
        locale = press.locale or turn.locale
        if (press.message.platform, press.message.chat_id) != (turn.platform, turn.chat_id):
            # A forwarded picture keeps its buttons: they act only where the turn lives.
            await channel.send_text(press.message, render("button_other_chat", locale))
            return
        if not self._permits(turn.platform, press.user_id, turn.chat_id, user):
            await channel.send_text(press.message, render("not_allowed", press.locale))
            return
        if press.kind is ActionKind.CANCEL:
            if press.user_id != turn.user_id and not await self._bot_admin(turn.platform, press.user_id):
                await channel.send_text(press.message, render("cancel_not_yours", locale))
                return
            self.cancel(turn.id)
        elif press.kind is ActionKind.ORIGINAL:
            await self._send_originals(turn, press.message, channel)
        elif press.kind is ActionKind.UNDO:
            await self._undo(turn, press.message, channel, locale)
        elif press.kind is ActionKind.RETRY and turn.status is TurnStatus.DONE:
            # Drawn and paid for, but the sending failed: send it again, never redraw.
            await self._show_stored(turn, turn.inbound or press.message, channel, self._caption(turn), locale)
        elif press.kind is ActionKind.RETRY and turn.status not in RETRIABLE:
            await channel.send_text(press.message, render("retry_not_possible", locale))
        elif press.kind in (ActionKind.REGENERATE, ActionKind.VARIATIONS, ActionKind.RETRY):
            await self._repeat(turn, press, channel, locale)

    async def recover(self, channels: Mapping[str, Channel]) -> list[TurnRecord]:
        """On start: this instance joins the others on the database; the turns of instances
        that are gone (their liveness lock is free, or no heartbeat within the lease) become
        interrupted and their chats are told, with Retry; pictures they drew and charged but
        never sent are sent. A live instance's turns are left to it. From then on a
        heartbeat renews the lease and sweeps up after instances that die."""
        self._channels = dict(channels)
        await self.store.heartbeat(self.options.instance_id)
        self._last_beat = time.monotonic()
        interrupted = await self._sweep()
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(), name="redraw-heartbeat")
        return interrupted

    async def first_delivery(
        self, platform: str, delivery_id: str, reception: Reception | None = None
    ) -> bool:
        """False when any instance already took this update (a webhook retried, a load
        balancer's second try): the adapter drops it. ``delivery_id`` is the adapter's own.
        With a ``reception`` (a message), it is kept until :meth:`handled`, so a crash before
        its turn is stored loses nothing: :meth:`unhandled_receptions` gives it back."""
        if reception is not None:
            reception = replace(reception, instance_id=self.options.instance_id)
        return await self.store.claim_delivery(platform, delivery_id, reception)

    async def handled(self, platform: str, delivery_ids: Sequence[str]) -> None:
        """These receptions became turns, or were answered or ignored: nothing to recover."""
        await self.store.handled(platform, delivery_ids)

    async def unhandled_receptions(self, platform: str) -> list[Reception]:
        """Messages that instances now gone took but never handled (they died downloading a
        photo, or waiting for the rest of an album): now this instance's, oldest first."""
        return await self.store.take_receptions(platform, self.options.instance_id, self.options.lease_s)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_s)
            try:
                await self.store.heartbeat(self.options.instance_id)
                self._last_beat = time.monotonic()
                await self._sweep()
                await self.store.prune(self.options.deliveries_kept_s, DEAD_INSTANCES_KEPT_S)
            except Exception:
                # The database may be back at the next beat; the lease outlives a few misses.
                log.exception("heartbeat of instance %s failed", self.options.instance_id)

    async def _sweep(self) -> list[TurnRecord]:
        """Interrupt the turns of instances that are gone and tell their chats; send the
        pictures they drew but never sent."""
        me, lease = self.options.instance_id, self.options.lease_s
        interrupted = await self.store.interrupt_unfinished(lease, me)
        for turn in interrupted:
            channel = self._channels.get(turn.platform)
            if channel is None:
                continue
            text = render("interrupted", turn.locale, prompt=_short(turn.prompt, 80))
            try:
                await self._tell(turn, channel, _reply_target(turn), text, retry=True)
            except Exception:
                log.exception("could not tell chat %s about interrupted turn %s", turn.chat_id, turn.id)
        for turn in await self.store.take_undelivered(me, lease, self.options.undelivered_kept_s):
            channel = self._channels.get(turn.platform)
            if channel is None or not turn.output_blobs:
                continue
            log.info("turn %s was drawn and charged but never sent; sending it now", turn.id)
            try:
                await self._show_stored(turn, _reply_target(turn), channel, self._caption(turn), turn.locale)
            except Exception:
                log.exception("could not send the stored pictures of turn %s", turn.id)
        return interrupted

    async def abandon(self) -> None:
        """Stop as a killed process would: no heartbeat, no lock, nothing retired (tests)."""
        self.stop_heartbeat()
        await self.store.abandon_instance(self.options.instance_id)

    def cancel(self, turn_id: int) -> bool:
        job = self._jobs.get(turn_id)
        if job is None or job.task is None or job.task.done() or job.delivering:
            return False
        job.task.cancel()
        return True

    async def shutdown(self, grace_s: float) -> None:
        """Stop cleanly: turns in flight get ``grace_s`` to finish; the rest are interrupted
        and their chats told, with Retry. Nothing is lost and nothing is charged twice."""
        running = [job.task for job in self._jobs.values() if job.task is not None]
        if running and grace_s > 0:
            await asyncio.wait(running, timeout=grace_s)
        for job in list(self._jobs.values()):
            # A turn already delivering is paid for: let it finish sending.
            if job.task is not None and not job.task.done() and not job.delivering:
                job.interrupted = True
                job.task.cancel()
        await self.drain()
        if self._heartbeat is not None:
            self.stop_heartbeat()
            # Every turn of ours is finished or interrupted: nothing is left under our lease.
            try:
                await self.store.retire_instance(self.options.instance_id)
            except Exception:
                log.exception("could not retire instance %s", self.options.instance_id)

    def health(self) -> str | None:
        """None while the lease is being renewed; otherwise what is wrong (the database, mostly)."""
        if self._last_beat is None:
            return "engine: not started"
        silent = time.monotonic() - self._last_beat
        if silent > self.options.heartbeat_s * 3:
            return f"database: no heartbeat for {silent:.0f} s"
        return None

    def stop_heartbeat(self) -> None:
        """No more lease renewals or sweeps (a shutdown; a test's simulated crash)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    async def drain(self) -> None:
        """Wait for every turn in flight (tests, and a clean shutdown)."""
        while tasks := [job.task for job in self._jobs.values() if job.task is not None]:
            await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    # --- addressing and access --------------------------------------------------

    def _addressed(self, inbound: Inbound, replied: SentMessage | None) -> bool:
        private = inbound.chat_kind is ChatKind.PRIVATE
        return private or inbound.addressed or bool(inbound.command) or replied is not None

    async def _allowed(self, platform: str, user_id: str, chat_id: str) -> bool:
        return self._permits(platform, user_id, chat_id, await self.store.user(platform, user_id))

    def _permits(self, platform: str, user_id: str, chat_id: str, user: UserRecord | None) -> bool:
        access = self.options.access
        if f"{platform}:{user_id}" in access.admins:
            return True  # the operator's own admins can't be locked out, not even by themselves
        if user is not None and user.blocked:
            return False
        if not access.allowed_users and not access.allowed_chats:
            return True
        return (
            f"{platform}:{user_id}" in access.allowed_users
            or f"{platform}:{chat_id}" in access.allowed_chats
            or f"{platform}:{user_id}" in access.admins
            or (user is not None and (user.allowed or user.admin))
        )

    async def _bot_admin(self, platform: str, user_id: str) -> bool:
        if f"{platform}:{user_id}" in self.options.access.admins:
            return True
        user = await self.store.user(platform, user_id)
        return user is not None and user.admin

    async def _replied(self, inbound: Inbound) -> SentMessage | None:
        """The bot's message being replied to. A picture whose key was never stored (the
        process died between sending it and storing its key) is still found by the turn its
        own buttons name, and its key is stored now."""
        if inbound.reply_to is None:
            return None
        replied = await self.store.sent_message(inbound.reply_to)
        if replied is not None or inbound.reply_turn is None:
            return replied
        turn = await self.store.get_turn(inbound.reply_turn)
        if turn is None or (turn.platform, turn.chat_id) != inbound.chat or not turn.output_blobs:
            return None
        index = min(max(inbound.reply_image, 0), len(turn.output_blobs) - 1)
        found = SentMessage(inbound.reply_to, turn.id, "image", index)
        await self.store.record_messages([found])
        return found

    async def _block(self, inbound: Inbound, *, blocked: bool) -> str:
        """/block and /unblock, for the bot's admins: a user id, or the author of the replied message."""
        platform = inbound.key.platform
        if not await self._bot_admin(platform, inbound.user_id):
            return render("admins_only", inbound.locale)
        words = inbound.text.split()
        target = words[0] if words else inbound.reply_user_id
        command = "block" if blocked else "unblock"
        # A user id as the platform gives it, not a @name (which would block nobody).
        if not target or len(words) > 1 or not target.replace("-", "").replace("_", "").isalnum():
            return render("block_usage", inbound.locale, command=command)
        if blocked and await self._bot_admin(platform, target):
            return render("block_admin", inbound.locale)
        current = await self.store.user(platform, target) or UserRecord(platform, target)
        await self.store.put_user(replace(current, blocked=blocked))
        return render("blocked_user" if blocked else "unblocked_user", inbound.locale, user=target)

    # --- a new request ---------------------------------------------------------

    async def _prompt(
        self, inbound: Inbound, channel: Channel, chat: ChatState, replied: SentMessage | None
    ) -> None:
        if replied is None and inbound.reply_bot_picture:
            # One of our pictures we can't place: drawing from scratch would lose the user's picture.
            await channel.send_text(inbound.key, render("reply_picture_unknown", inbound.locale))
            return
        parent, parent_image = await self._parent_of(inbound, chat, replied)
        if inbound.images and not inbound.text.strip() and parent is None:
            # A bare photo: ask what to do rather than guess. Replying to it later brings it back.
            await channel.send_text(inbound.key, render("images_need_prompt", inbound.locale))
            return
        backend = self._backend_for(chat)
        try:
            # From the text and the platform's metadata first: a refused request downloads nothing.
            check_upfront(inbound.text, inbound.images, already=1 if parent and parent.output_blobs else 0)
            params = self._request_params(chat, backend, inbound.params)
            uploads = [await image.load() for image in inbound.images]
        except InputError as error:
            await channel.send_text(inbound.key, render_error(error, inbound.locale))
            return
        # Uploads are kept so a retry after a crash still has them.
        input_blobs = [await self.blobs.put(data) for data in uploads]
        new = NewTurn(
            platform=inbound.key.platform,
            chat_id=inbound.key.chat_id,
            user_id=inbound.user_id,
            prompt=inbound.text,
            backend=backend,
            model=self.options.models[backend],
            params=params,
            parent_id=parent.id if parent else None,
            parent_image=parent_image,
            inbound=inbound.key,
            locale=inbound.locale,
            input_blobs=input_blobs,
            instance_id=self.options.instance_id,
        )
        turn = await self.store.create_turn(new)
        if turn is None:
            log.info("inbound %s was already handled; ignoring the redelivery", inbound.key)
            return
        self._start(_Job(turn, channel, inbound.key, uploads, parent))

    async def _parent_of(
        self, inbound: Inbound, chat: ChatState, replied: SentMessage | None
    ) -> tuple[TurnRecord | None, int]:
        """A reply to a bot image continues that turn (any depth: a branch). In a private
        chat a plain follow-up continues the chat's latest turn until /new; a message
        that brings its own photos starts from them."""
        if inbound.reply_to is not None:
            if replied is not None and replied.kind in ("image", "caption"):
                return await self.store.get_turn(replied.turn_id), replied.image_index or 0
            return None, 0
        if inbound.chat_kind is ChatKind.PRIVATE and not inbound.images and chat.latest_turn_id is not None:
            return await self.store.get_turn(chat.latest_turn_id), 0
        return None, 0

    def _backend_for(self, chat: ChatState) -> str:
        wanted = chat.settings.get("backend")
        return wanted if wanted in self.backends else self.options.default_backend

    def _params(self, chat: ChatState) -> dict[str, Any]:
        settings = chat.settings
        return {
            "size": settings.get("size", "auto"),
            "quality": settings.get("quality", "auto"),
            "output_format": settings.get("format", "png"),
        }

    def _request_params(self, chat: ChatState, backend: str, overrides: Mapping[str, str]) -> dict[str, Any]:
        """The chat's settings with this request's own size and quality, checked before anything is stored."""
        params = self._params(chat)
        if "size" in overrides:
            params["size"] = check_size(overrides["size"], image_model(self.options.models[backend]))
        if "quality" in overrides:
            params["quality"] = check_quality(overrides["quality"].lower())
        return params

    async def _repeat(
        self, turn: TurnRecord, press: ActionPress, channel: Channel, locale: str | None
    ) -> None:
        """Regenerate (same parent, same prompt), variations, or retry a failed turn. A press
        is taken once, in the database: a turn is retried once ever (after a restart, on any
        instance), and the same user's second press of the same button while the first is
        still drawing is the same press."""
        action = press.kind.value
        retry = press.kind is ActionKind.RETRY
        new = NewTurn(
            platform=turn.platform,
            chat_id=turn.chat_id,
            user_id=press.user_id,
            prompt=turn.prompt,
            backend=turn.backend if turn.backend in self.backends else self.options.default_backend,
            model=turn.model,
            params=dict(turn.params),
            action=action,
            parent_id=turn.parent_id,
            parent_image=turn.parent_image,
            locale=locale,
            input_blobs=list(turn.input_blobs),
            instance_id=self.options.instance_id,
            claim=f"retry:{turn.id}" if retry else None,
            source_turn_id=turn.id,
        )
        try:
            uploads = [await self.blobs.get(blob) for blob in turn.input_blobs]
        except BlobNotFound:
            await channel.send_text(press.message, render("retry_not_possible", locale))
            return
        created = await self.store.create_turn(new)
        if created is None:
            refusal = "retry_not_possible" if retry else "already_drawing"
            await channel.send_text(press.message, render(refusal, locale))
            return
        parent = await self.store.get_turn(turn.parent_id) if turn.parent_id else None
        reply_to = turn.inbound or press.message
        self._start(_Job(created, channel, reply_to, uploads, parent))

    def _start(self, job: _Job) -> None:
        turn_id = job.turn.id
        self._jobs[turn_id] = job
        job.task = asyncio.create_task(self._run(job), name=f"turn-{turn_id}")
        job.task.add_done_callback(lambda _task: self._ended(turn_id))

    def _ended(self, turn_id: int) -> None:
        self._jobs.pop(turn_id, None)
        # Its slot is free: turns of this process waiting on the database look again now.
        freed, self._slot_freed = self._slot_freed, asyncio.Event()
        freed.set()

    # --- running a turn ---------------------------------------------------------

    async def _finish(self, job: _Job, outcome: Outcome, messages: Sequence[SentMessage] = ()) -> TurnRecord:
        finished = await self.store.finish_turn(job.turn.id, outcome, messages)
        job.outcome = outcome
        return finished

    def _account(self, job: _Job, seconds: float) -> None:
        """The turn's one summary line, and its metrics."""
        turn, outcome = job.turn, job.outcome
        status = outcome.status.value if outcome is not None else "abandoned"
        metrics.TURNS.labels(turn.platform, turn.backend, status).inc()
        metrics.TURN_SECONDS.labels(turn.backend, status).observe(seconds)
        cost = outcome.cost_usd if outcome is not None else 0.0
        if cost:
            metrics.COST.labels(
                turn.platform, outcome.model if outcome and outcome.model else turn.model
            ).inc(cost)
        log.info(
            "turn %s %s in %.1f s (%s, %s, $%.3f)",
            turn.id,
            status,
            seconds,
            turn.backend,
            turn.model,
            cost,
            extra={
                "status": status,
                "seconds": round(seconds, 3),
                "platform": turn.platform,
                "chat_id": turn.chat_id,
                "backend": turn.backend,
                "model": turn.model,
                "cost_usd": cost,
                "request_id": outcome.request_id if outcome else None,
                "error_kind": outcome.error_kind if outcome else None,
            },
        )

    async def _run(self, job: _Job) -> None:
        # This task's own context: every record logged for the turn carries its id.
        current_turn.set(job.turn.id)
        started = time.monotonic()
        metrics.IN_FLIGHT.inc()
        try:
            await self._run_job(job)
        finally:
            metrics.IN_FLIGHT.dec()
            self._account(job, time.monotonic() - started)

    async def _run_job(self, job: _Job) -> None:
        turn = job.turn
        try:
            await self._run_checked(job)
        except asyncio.CancelledError:
            if job.interrupted:
                await self._interrupted_by_shutdown(job)
                return
            await self._finish(job, Outcome(TurnStatus.CANCELLED, error_kind="cancelled"))
            replace = await self._close_status(job, keep=True)
            await job.channel.send_text(job.reply_to, render("cancelled", turn.locale), replace=replace)
        except RedrawError as error:
            await self._fail(job, error)
        except _TurnTaken:
            log.warning("turn %s was interrupted by another instance's recovery", turn.id)
        except Exception as exc:
            if job.delivering:
                # Paid for and stored: it must not be marked failed (its Retry would redraw).
                log.exception("turn %s: could not finish delivering", turn.id)
                return
            log.exception("turn %s failed unexpectedly", turn.id)
            await self._fail(job, RedrawError(f"{type(exc).__name__}: {exc}"))
        finally:
            await self._close_status(job, keep=False)

    async def _close_status(self, job: _Job, *, keep: bool) -> MessageKey | None:
        """Stop the turn's status; with ``keep``, the message on screen for the answer to replace."""
        if job.status is None:
            return None
        try:
            return await job.status.close(keep=keep)
        except Exception:
            log.exception("turn %s: could not close its status message", job.turn.id)
            return None

    async def _interrupted_by_shutdown(self, job: _Job) -> None:
        turn = job.turn
        await self._finish(job, Outcome(TurnStatus.INTERRUPTED, error_kind="interrupted"))
        text = render("shutting_down", turn.locale, prompt=_short(turn.prompt, 80))
        try:
            replace = await self._close_status(job, keep=True)
            await self._tell(turn, job.channel, job.reply_to, text, retry=True, replace=replace)
        except Exception:
            log.exception("could not tell chat %s that turn %s was interrupted", turn.chat_id, turn.id)

    async def _run_checked(self, job: _Job) -> None:
        turn, channel, reply_to, parent = job.turn, job.channel, job.reply_to, job.parent
        backend = self.backends[turn.backend]
        parent_turn = _parent_turn(parent, turn.parent_image) if parent and parent.output_blobs else None
        copies = self.options.variations if turn.action == ActionKind.VARIATIONS.value else 1
        params = ImageParams(**turn.params)
        if copies > 1 and turn.backend not in SINGLE_IMAGE_BACKENDS:
            params, copies = replace(params, n=copies), 1
        request = await prepare_request(
            turn.prompt,
            params,
            model=turn.model,
            backend=turn.backend,
            images=job.uploads,
            parent_images=len(parent_turn.images) if parent_turn else 0,
            user_id=f"{turn.platform}:{turn.user_id}",
        )
        parent_images = len(parent_turn.images) if parent_turn else 0
        quote = self.options.prices.quote(turn.model, request, copies=copies, parent_images=parent_images)
        estimate = quote.usd
        # A quick refusal from the ledger alone; the claim below checks again with every
        # instance's running turns counted.
        if (refusal := await self._early_budget_refusal(turn, estimate)) is not None:
            raise refusal
        # From here the chat may see a status message; the provider call never waits for it.
        cancel = _actions([ActionKind.CANCEL], turn.id, turn.locale)
        status = job.status = Status(
            channel.progress(reply_to, cancel, label=_short(turn.prompt, 40)),
            turn.locale,
            after_s=self.options.status_after_s,
            every_s=self.options.progress_every_s,
        )
        async with self._slot(turn, estimate, status.waiting):
            status.drawing()
            results = await self._call(
                backend=backend, request=request, parent=parent_turn, copies=copies, status=status
            )
            job.delivering = True
        # A quick picture takes its status message's place; a slow one comes as a new
        # message, which notifies (an edit does not), and the status goes.
        quick = time.monotonic() - job.started <= self.options.notify_after_s
        shown = await self._close_status(job, keep=quick)
        await self._deliver(job, quote=quote, drawn=results, shown=shown)

    async def _call(
        self,
        *,
        backend: ImageBackend,
        request: ImageRequest,
        parent: ParentTurn | None,
        copies: int,
        status: Status,
    ) -> _Drawn:
        async def on_partial(partial: PartialImage) -> None:
            status.preview(partial.data)

        calls = [backend.run(request, parent, on_partial=on_partial) for _ in range(copies)]
        # Every copy runs to its end (a cancelled turn cancels them all): a copy that
        # fails must not leave its siblings drawing, billed, with no turn to account for them.
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        results = [outcome for outcome in outcomes if isinstance(outcome, TurnResult)]
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if not results:
            raise failures[0]
        return _Drawn(results, failures, copies)

    async def _deliver(self, job: _Job, *, quote: Quote, drawn: _Drawn, shown: MessageKey | None) -> None:
        turn, results = job.turn, drawn.results
        images = [image for result in results for image in result.images]
        first = results[0]
        # Only the copies that were drawn are charged.
        cost = quote.charge(results)
        state = first.state if len(results) == 1 else {"variants": [result.state for result in results]}
        outcome = Outcome(
            TurnStatus.DONE,
            state=state,
            output_blobs=[image.blob_id for image in images],
            model=first.model,
            cost_usd=round(cost, 6),
            request_id=first.request_id,
            revised_prompt=first.revised_prompt,
        )
        # The turn and its charge are written before anything is sent: a crash after this
        # point never charges twice and never loses the images (recovery sends them).
        progress = [SentMessage(shown, turn.id, "progress")] if shown is not None else []
        done = await self._finish(job, outcome, progress)
        caption = self._caption(done)
        if drawn.failures:
            reason = render_error(_as_redraw_error(drawn.failures[0]), turn.locale)
            caption += "\n" + render(
                "variations_partial",
                turn.locale,
                failed=len(drawn.failures),
                total=drawn.asked,
                reason=_short(reason, 300),
            )
        try:
            await self._show(
                done, job.reply_to, job.channel, images, caption, locale=turn.locale, replace=shown
            )
        except Exception:
            # The turn stays done and charged once; Retry sends the stored pictures.
            log.exception("turn %s: the pictures are drawn but could not be sent", turn.id)
            await self._tell(
                turn, job.channel, job.reply_to, render("delivery_failed", turn.locale), retry=True
            )

    async def _show(
        self,
        turn: TurnRecord,
        reply_to: MessageKey,
        channel: Channel,
        images: Sequence[OutgoingImage | GeneratedImage],
        caption: str,
        *,
        locale: str | None,
        replace: MessageKey | None = None,
    ) -> None:
        """Send a turn's pictures with its buttons, and store every message that shows them
        (an album's caption message too): the turn is delivered, and the chat's latest."""
        outgoing = [
            image
            if isinstance(image, OutgoingImage)
            else OutgoingImage(image.data, image.mime, image.width, image.height)
            for image in images
        ]
        keys = await channel.send_images(
            reply_to, outgoing, caption, _actions(RESULT_ACTIONS, turn.id, locale), replace=replace
        )
        shown = [SentMessage(key, turn.id, "image", index) for index, key in enumerate(keys[: len(outgoing)])]
        shown += [SentMessage(key, turn.id, "caption", 0) for key in keys[len(outgoing) :]]
        await self.store.delivered(shown, turn.platform, turn.chat_id, turn.id)

    def _caption(self, turn: TurnRecord) -> str:
        return f"{_short(turn.revised_prompt or turn.prompt)}\n💲{turn.cost_usd:.3f}"

    async def _fail(self, job: _Job, error: RedrawError) -> None:
        turn = job.turn
        request_id = getattr(error, "request_id", None)
        await self._finish(
            job,
            Outcome(
                TurnStatus.FAILED,
                error_kind=error.message_key,
                error_message=error.detail[:1000],
                request_id=request_id,
            ),
        )
        # Bad input: nothing to retry until the user changes it. Otherwise offer Retry.
        retry = not isinstance(error, InputError)
        replace = await self._close_status(job, keep=True)
        text = render_error(error, turn.locale)
        await self._tell(turn, job.channel, job.reply_to, text, retry=retry, replace=replace)
        if isinstance(error, UpstreamError):
            log.warning(
                "turn %s failed upstream: %s (request id %s)",
                turn.id,
                error.kind,
                request_id,
                extra={"request_id": request_id},
            )

    async def _tell(
        self,
        turn: TurnRecord,
        channel: Channel,
        reply_to: MessageKey,
        text: str,
        *,
        retry: bool,
        replace: MessageKey | None = None,
    ) -> None:
        """A message about ``turn`` (with Retry if asked), recorded so a reply to it finds the turn."""
        actions = _actions([ActionKind.RETRY], turn.id, turn.locale) if retry else []
        key = await channel.send_text(reply_to, text, actions, replace=replace)
        await self.store.record_messages([SentMessage(key, turn.id, "text")])

    # --- budgets ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _slot(
        self, turn: TurnRecord, estimate: float, on_place: Callable[[int], None]
    ) -> AsyncIterator[None]:
        """Hold a place under the limits while the provider is called. This process's own
        line first (fair, and it wakes at once); then the database, where the limits and
        budgets hold across every instance. A turn that must wait hears its place
        (``on_place``, which only notes it: the status shows it)."""

        async def tell_place(position: int) -> None:
            on_place(position)

        user_key, chat_key = (turn.platform, turn.user_id), (turn.platform, turn.chat_id)
        waiting_since = time.monotonic()
        metrics.WAITING.inc()
        waiting = True
        try:
            async with self.limiter.slot(user_key, chat_key, tell_place):
                await self._claim_slot(turn, estimate, on_place)
                metrics.WAITING.dec()
                waiting = False
                metrics.QUEUE_SECONDS.observe(time.monotonic() - waiting_since)
                yield
        finally:
            if waiting:
                metrics.WAITING.dec()

    async def _claim_slot(self, turn: TurnRecord, estimate: float, on_place: Callable[[int], None]) -> None:
        """Wait until the turn fits every instance's limits and budgets, then hold its place."""
        request = self._slot_request(turn, estimate)
        while (outcome := await self.store.claim_slot(turn.id, request)).status is SlotStatus.BUSY:
            on_place(outcome.ahead + 1)
            # Another instance's turn gives no signal here: look again after a while.
            freed = self._slot_freed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(freed.wait(), self.options.slot_poll_s)
        if outcome.status is SlotStatus.GONE:
            raise _TurnTaken()
        if outcome.status is not SlotStatus.CLAIMED:
            raise self._budget_refusal(turn, outcome.status, outcome.spent_usd, estimate)

    def _slot_request(self, turn: TurnRecord, estimate: float) -> SlotRequest:
        limits, budgets = self.options.limits, self.options.budgets
        day, month = _day_and_month(self.clock())
        return SlotRequest(
            per_user=limits.per_user,
            per_chat=limits.per_chat,
            overall=limits.global_,
            estimate_usd=estimate,
            user_budget_usd=budgets.user_daily,
            user_since=day,
            chat_budget_usd=budgets.chat_monthly,
            chat_since=month,
        )

    async def _early_budget_refusal(self, turn: TurnRecord, estimate: float) -> InputError | None:
        """A refusal when the ledger alone leaves no room for this turn in a budget."""
        budgets = self.options.budgets
        day, month = _day_and_month(self.clock())
        if budgets.user_daily is not None:
            spent = await self.store.spent_usd(turn.platform, day, user_id=turn.user_id)
            if spent + estimate > budgets.user_daily:
                return self._budget_refusal(turn, SlotStatus.USER_BUDGET, spent, estimate)
        if budgets.chat_monthly is not None:
            spent = await self.store.spent_usd(turn.platform, month, chat_id=turn.chat_id)
            if spent + estimate > budgets.chat_monthly:
                return self._budget_refusal(turn, SlotStatus.CHAT_BUDGET, spent, estimate)
        return None

    def _budget_refusal(
        self, turn: TurnRecord, which: SlotStatus, spent: float, estimate: float
    ) -> InputError:
        """Why the turn can't run: the user's day or the chat's month is spent, and when it resets."""
        day, month = _day_and_month(self.clock())
        if which is SlotStatus.USER_BUDGET:
            key, limit, reset = "budget_user", self.options.budgets.user_daily, (day + timedelta(days=1))
            shown = reset.strftime("%H:%M")
        else:
            key, limit = "budget_chat", self.options.budgets.chat_monthly
            shown = (month + timedelta(days=32)).replace(day=1).strftime("%Y-%m-%d")
        return InputError(
            key,
            key=key,
            spent=f"{spent:.2f}",
            limit=f"{limit or 0:.2f}",
            cost=f"{estimate:.2f}",
            reset=shown,
        )

    # --- commands and actions ---------------------------------------------------

    async def _usage_text(self, inbound: Inbound) -> str:
        platform, chat_id = inbound.chat
        day, month = _day_and_month(self.clock())
        today = await self.store.usage(platform, day, user_id=inbound.user_id)
        this_month = await self.store.usage(platform, month, user_id=inbound.user_id)
        chat = await self.store.usage(platform, month, chat_id=chat_id)
        return render(
            "usage",
            inbound.locale,
            today_images=today[0],
            today_cost=f"{today[1]:.2f}",
            month_images=this_month[0],
            month_cost=f"{this_month[1]:.2f}",
            chat_images=chat[0],
            chat_cost=f"{chat[1]:.2f}",
        )

    async def _history_text(self, inbound: Inbound, replied: SentMessage | None, chat: ChatState) -> str:
        """How the replied picture was made; without a reply, the chat's latest picture."""
        turn_id = replied.turn_id if replied is not None else chat.latest_turn_id
        if turn_id is None:
            return render("history_needs_reply", inbound.locale)
        chain = await self.store.lineage(turn_id)
        lines = [f"{step}. {_short(turn.prompt, 120)}" for step, turn in enumerate(chain, start=1)]
        return render("history", inbound.locale, count=len(chain), lines="\n".join(lines))

    async def _cancel_mine(self, inbound: Inbound, channel: Channel) -> None:
        mine = [
            job.turn.id
            for job in self._jobs.values()
            if job.turn.user_id == inbound.user_id and (job.turn.platform, job.turn.chat_id) == inbound.chat
        ]
        if not any(self.cancel(turn_id) for turn_id in mine):
            await channel.send_text(inbound.key, render("nothing_to_cancel", inbound.locale))

    async def settings_view(self, chat: tuple[str, str], locale: str | None) -> SettingsView:
        """The chat's settings and the values on offer, for a keyboard or select menus."""
        state = await self.store.chat_state(*chat)
        return self._view(state, locale)

    def _view(self, chat: ChatState, locale: str | None) -> SettingsView:
        current = self._current_settings(chat)
        model = image_model(self.options.models[current["backend"]])
        offered: dict[str, Sequence[SettingOption]] = {
            "backend": [SettingOption(name, name) for name in sorted(self.backends)],
            "size": [SettingOption(size, size_label(size)) for size in model.sizes],
            "quality": [SettingOption(value, value) for value in QUALITIES],
            "format": [SettingOption(value, value) for value in OUTPUT_FORMATS],
        }
        groups = tuple(
            SettingGroup(name, render(f"setting_{name}", locale), current[name], tuple(options))
            for name, options in offered.items()
        )
        return SettingsView(render("settings_pick", locale, summary=self._settings_summary(chat)), groups)

    async def pick_setting(self, pick: SettingPick) -> SettingOutcome:
        """A value picked on a settings view (admins only in groups)."""
        platform, chat_id = pick.chat.platform, pick.chat.chat_id
        user = await self.store.user(platform, pick.user_id)
        pick = replace(pick, locale=effective(user, pick.locale))  # /language overrides
        if not self._permits(platform, pick.user_id, chat_id, user):
            return SettingOutcome(render("not_allowed", pick.locale), refused=True)
        if not await self._may_change_settings(platform, pick.user_id, pick.chat_kind, pick.chat_admin):
            return SettingOutcome(_render_for(platform, "settings_admin_only", pick.locale), refused=True)
        chat = await self.store.chat_state(platform, chat_id)
        if self._current_settings(chat).get(pick.name) == pick.value:
            return SettingOutcome(render("settings_unchanged", pick.locale))
        saved, refusal = await self._change_setting(chat, pick.name, pick.value, pick.locale)
        if saved is None:
            return SettingOutcome(refusal, refused=True)
        view = self._view(saved, pick.locale)
        return SettingOutcome(
            render("settings_saved", pick.locale, summary=self._settings_summary(saved)), view
        )

    async def _may_change_settings(
        self, platform: str, user_id: str, chat_kind: ChatKind, chat_admin: bool
    ) -> bool:
        return chat_kind is ChatKind.PRIVATE or chat_admin or await self._bot_admin(platform, user_id)

    def _current_settings(self, chat: ChatState) -> dict[str, str]:
        """The value in force for each of SETTING_NAMES, defaults included."""
        params = self._params(chat)
        return {
            "backend": self._backend_for(chat),
            "size": params["size"],
            "quality": params["quality"],
            "format": params["output_format"],
        }

    async def _settings_command(self, inbound: Inbound) -> str:
        """``/settings size 1536x1024`` changes one setting (admins only in groups)."""
        if not await self._may_change_settings(
            inbound.key.platform, inbound.user_id, inbound.chat_kind, inbound.chat_admin
        ):
            return _render_for(inbound.key.platform, "settings_admin_only", inbound.locale)
        words = inbound.text.split()
        name, value = words[0].lower(), " ".join(words[1:]).strip().lower()
        chat = await self.store.chat_state(*inbound.chat)
        saved, refusal = await self._change_setting(chat, name, value, inbound.locale)
        if saved is None:
            return refusal
        return render("settings_saved", inbound.locale, summary=self._settings_summary(saved))

    async def _change_setting(
        self, chat: ChatState, name: str, value: str, locale: str | None
    ) -> tuple[ChatState | None, str]:
        """Validate and save one setting: the new chat state, or None and why not."""
        if name not in SETTING_NAMES:
            return None, render("settings_unknown", locale, name=name, names=", ".join(SETTING_NAMES))
        allowed: Sequence[str]
        if name == "backend":
            allowed = sorted(self.backends)
        elif name == "quality":
            allowed = QUALITIES
        elif name == "format":
            allowed = OUTPUT_FORMATS
        else:
            model = image_model(self.options.models[self._backend_for(chat)])
            try:
                value = check_size(value or "auto", model)
            except InputError as error:
                return None, render_error(error, locale)
            allowed = [value]
        if value not in allowed:
            return None, render("settings_value", locale, name=name, value=value, allowed=", ".join(allowed))
        settings = {**chat.settings, name: value}
        return await self.store.update_chat(chat.platform, chat.chat_id, settings=settings), ""

    def _settings_summary(self, chat: ChatState) -> str:
        params = self._params(chat)
        backend = self._backend_for(chat)
        return (
            f"backend {backend} ({self.options.models[backend]}), size {params['size']}, "
            f"quality {params['quality']}, format {params['output_format']}"
        )

    async def _send_originals(self, turn: TurnRecord, reply_to: MessageKey, channel: Channel) -> None:
        for index, blob in enumerate(turn.output_blobs):
            try:
                data = await self.blobs.get(blob)
            except BlobNotFound:
                await channel.send_text(reply_to, render("parent_image_missing", turn.locale))
                return
            # From the bytes: a proxy's result need not be the format that was asked for.
            mime = imaging.sniff_mime(data) or "image/png"
            filename = f"redraw-{turn.id}-{index + 1}.{MIME_EXTENSIONS.get(mime, 'png')}"
            key = await channel.send_file(reply_to, data, filename, mime, locale=turn.locale)
            await self.store.record_messages([SentMessage(key, turn.id, "file", index)])

    async def _undo(
        self, turn: TurnRecord, reply_to: MessageKey, channel: Channel, locale: str | None
    ) -> None:
        """Show the parent again and make it what the chat continues from."""
        parent = await self.store.get_turn(turn.parent_id) if turn.parent_id else None
        if parent is None or not parent.output_blobs:
            await channel.send_text(reply_to, render("undo_nothing", locale))
            return
        caption = f"{render('undo_done', locale)}\n{_short(parent.prompt)}"
        await self._show_stored(parent, reply_to, channel, caption, locale)

    async def _show_stored(
        self, turn: TurnRecord, reply_to: MessageKey, channel: Channel, caption: str, locale: str | None
    ) -> None:
        """Send a finished turn's stored pictures again, and make it what the chat continues from."""
        try:
            datas = [await self.blobs.get(blob) for blob in turn.output_blobs]
        except BlobNotFound:
            await channel.send_text(reply_to, render("parent_image_missing", locale))
            return
        images = [OutgoingImage(data, *imaging.describe(data)) for data in datas]
        await self._show(turn, reply_to, channel, images, caption, locale=locale)


@dataclass(frozen=True)
class _Drawn:
    """What the provider calls of one turn gave: the copies drawn, and the ones that failed."""

    results: list[TurnResult]
    failures: list[BaseException]
    asked: int


def _as_redraw_error(error: BaseException) -> RedrawError:
    if isinstance(error, RedrawError):
        return error
    return RedrawError(f"{type(error).__name__}: {error}")


class _TurnTaken(Exception):
    """Another instance's recovery interrupted this turn (and told its chat) while it waited."""


def _reply_target(turn: TurnRecord) -> MessageKey:
    """The user's message a turn answers; without one, its chat (no reply)."""
    return turn.inbound or MessageKey(turn.platform, turn.chat_id, "")


def _day_and_month(now: datetime) -> tuple[datetime, datetime]:
    """The start of the UTC day and of the month ``now`` falls in (budget and usage windows)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def _parent_turn(parent: TurnRecord, index: int) -> ParentTurn:
    """What the backend continues from: the chosen output image and the state that made it."""
    index = index if 0 <= index < len(parent.output_blobs) else 0
    variants = parent.state.get("variants")
    state = variants[index] if isinstance(variants, list) and index < len(variants) else parent.state
    return ParentTurn(parent.backend, state, (parent.output_blobs[index],))
