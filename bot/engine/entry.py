"""The conversation engine's entry points: :meth:`Engine.handle` for every message,
:meth:`Engine.press` for every button, :meth:`Engine.recover` at start.

A message goes: addressed? (:class:`~bot.engine.access.Gate`) → allowed? → a command
from the table (:mod:`bot.engine.commands`) or a prompt → :class:`~bot.engine.intake.Intake`
finds its parent and stores the turn → :class:`~bot.engine.pipeline.Pipeline` admits it
(:mod:`bot.engine.admission`), calls the backend and delivers
(:mod:`bot.engine.pictures`). The instance's lease and recovery are :mod:`bot.engine.lease`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.backends.base import ImageBackend
from bot.blobs import BlobStore
from bot.engine.access import Gate
from bot.engine.admission import Admission
from bot.engine.commands import CommandCall, Commands
from bot.engine.intake import Intake
from bot.engine.language import effective
from bot.engine.lease import Lease
from bot.engine.limits import Limiter
from bot.engine.options import EngineOptions
from bot.engine.pictures import Pictures, caption
from bot.engine.pipeline import Pipeline
from bot.engine.records import MessageKey, SentMessage, TurnRecord, TurnStatus
from bot.engine.regions import RegionGrids
from bot.engine.seams import (
    ActionKind,
    ActionPress,
    Channel,
    GridOutcome,
    GridPress,
    GridView,
    Inbound,
    SettingOutcome,
    SettingPick,
    SettingsView,
)
from bot.engine.settings import ChatSettings
from bot.engine.store import Reception, Store
from bot.engine.versions import Versions
from bot.messages import MESSAGES, render

# What a Retry redraws; a done turn's Retry sends its stored pictures instead.
RETRIABLE = (TurnStatus.FAILED, TurnStatus.INTERRUPTED)


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        self.options = options = options or EngineOptions()
        self.gate = Gate(store, options.access)
        self.admission = Admission(store, options, clock)
        self.pictures = Pictures(store, blobs)
        self.pipeline = Pipeline(store, self.backends, options, self.admission, self.pictures)
        self.settings = ChatSettings(store, self.backends, options, self.gate)
        self.grids = RegionGrids(store, blobs)
        self.versions = Versions(store, blobs, pages=options.pages)
        self.intake = Intake(
            store,
            blobs,
            backends=self.backends,
            options=options,
            settings=self.settings,
            pipeline=self.pipeline,
            grids=self.grids,
        )
        self.commands = Commands(
            store, self.gate, self.settings, self.pipeline, clock, versions=self.versions
        )
        self.lease = Lease(store, options, self.pictures)

    @property
    def limiter(self) -> Limiter:
        return self.admission.limiter

    # --- messages and buttons ------------------------------------------------------------

    async def handle(self, inbound: Inbound, channel: Channel) -> None:
        """Everything a user sends goes through here."""
        # The bot's message being replied to, if any: it addresses the bot and names the parent.
        replied = await self.intake.replied(inbound)
        if not self.gate.addressed(inbound, replied):
            return
        chat, user = await self.store.context(inbound.key.platform, inbound.key.chat_id, inbound.user_id)
        platform_locale = inbound.locale
        inbound = replace(inbound, locale=effective(user, inbound.locale))  # /language overrides
        if not self.gate.permits(inbound.key.platform, inbound.user_id, inbound.key.chat_id, user):
            await channel.send_text(inbound.key, render("not_allowed", inbound.locale))
            return
        command = inbound.command
        if inbound.unsupported is not None:
            kind = f"unsupported_{inbound.unsupported}"
            what = render(kind if kind in MESSAGES else "unsupported_other", inbound.locale)
            await channel.send_text(inbound.key, render("unsupported_input", inbound.locale, what=what))
        elif command is not None and not self.commands.known(command):
            await channel.send_text(inbound.key, render("unknown_command", inbound.locale, command=command))
        elif command is not None and command in self.commands.table:
            await self.commands.table[command](CommandCall(inbound, channel, chat, replied, platform_locale))
        else:
            await self.intake.prompt(inbound, channel, chat, replied)

    async def _pressed(self, press: ActionPress) -> tuple[TurnRecord | None, ActionPress, str | None]:
        """The turn a button names, the press in the presser's language, and a refusal (a
        missing turn, another chat's turn, a user not allowed) or None."""
        turn = await self.store.get_turn(press.turn_id)
        if turn is None:
            return None, press, render("turn_missing", press.locale)
        user = await self.store.user(turn.platform, press.user_id)
        press = replace(press, locale=effective(user, press.locale))  # /language overrides
        if (press.message.platform, press.message.chat_id) != (turn.platform, turn.chat_id):
            # A forwarded picture keeps its buttons: they act only where the turn lives.
            return turn, press, render("button_other_chat", press.locale or turn.locale)
        if not self.gate.permits(turn.platform, press.user_id, turn.chat_id, user):
            return turn, press, render("not_allowed", press.locale)
        return turn, press, None

    async def press(self, press: ActionPress, channel: Channel) -> None:
        """A button on one of the bot's messages (✏️ opens a grid: :meth:`open_grid`)."""
        turn, press, refusal = await self._pressed(press)
        if turn is None or refusal is not None:
            await channel.send_text(press.message, refusal or render("turn_missing", press.locale))
            return
        locale = press.locale or turn.locale
        if press.kind is ActionKind.CANCEL:
            if press.user_id != turn.user_id and not await self.gate.bot_admin(turn.platform, press.user_id):
                await channel.send_text(press.message, render("cancel_not_yours", locale))
                return
            self.pipeline.cancel(turn.id)
        elif press.kind is ActionKind.ORIGINAL:
            await self.pictures.send_originals(turn, press.message, channel)
        elif press.kind is ActionKind.UNDO:
            await self.pictures.undo(turn, press.message, channel, locale)
        elif press.kind is ActionKind.RETRY and turn.status is TurnStatus.DONE:
            # Drawn and paid for, but the sending failed: send it again, never redraw.
            await self.pictures.show_stored(
                turn, turn.inbound or press.message, channel, caption(turn), locale
            )
        elif press.kind is ActionKind.RETRY and turn.status not in RETRIABLE:
            await channel.send_text(press.message, render("retry_not_possible", locale))
        elif press.kind in (ActionKind.REGENERATE, ActionKind.VARIATIONS, ActionKind.RETRY):
            await self.intake.repeat(turn, press, channel, locale)
        elif press.kind is ActionKind.VERSIONS:
            shown = await self.store.sent_message(press.message)
            index = shown.image_index or 0 if shown is not None and shown.kind == "image" else 0
            await self.versions.show(turn.id, index, press.message, channel, locale)
        elif press.kind is ActionKind.REGION:
            # Adapters open grids themselves (open_grid); a channel that can't show one says so.
            await channel.send_text(press.message, render("grid_unavailable", locale))

    # --- region edits (bot.engine.regions) ------------------------------------------------

    async def open_grid(self, press: ActionPress) -> GridOutcome:
        """✏️ on a picture: the grid to show the presser (the adapter shows it, then calls
        :meth:`grid_shown`). A region edit itself is a message: an :class:`Inbound` replying
        to the grid (its cells), or carrying ``mask`` and replying to the picture, through
        :meth:`handle`."""
        turn, press, refusal = await self._pressed(press)
        if turn is None or refusal is not None:
            return GridOutcome(notice=refusal or "", refused=True)
        return await self.grids.open(turn, press, press.locale or turn.locale)

    async def grid_shown(self, view: GridView, key: MessageKey, user_id: str) -> None:
        """The grid ``view`` is on screen as ``key``, opened by ``user_id``."""
        await self.grids.shown(view, SentMessage(key, view.turn_id, "grid", view.image_index, user_id))

    async def press_grid(self, press: GridPress) -> GridOutcome:
        """A grid's button: a cell, all, none, done or cancel."""
        return await self.grids.press(press)

    async def settings_view(self, chat: tuple[str, str], locale: str | None) -> SettingsView:
        return await self.settings.view(chat, locale)

    async def pick_setting(self, pick: SettingPick) -> SettingOutcome:
        return await self.settings.pick(pick)

    def cancel(self, turn_id: int) -> bool:
        return self.pipeline.cancel(turn_id)

    # --- the instance ---------------------------------------------------------------------

    async def recover(self, channels: Mapping[str, Channel]) -> list[TurnRecord]:
        """On start: this instance joins the others on the database; the turns of instances
        that are gone (their liveness lock is free, or no heartbeat within the lease) become
        interrupted and their chats are told, with Retry; pictures they drew and charged but
        never sent are sent. A live instance's turns are left to it. From then on a
        heartbeat renews the lease and sweeps up after instances that die."""
        return await self.lease.join(channels)

    async def first_delivery(
        self, platform: str, delivery_id: str, reception: Reception | None = None
    ) -> bool:
        return await self.lease.first_delivery(platform, delivery_id, reception)

    async def first_deliveries(
        self, platform: str, claims: Sequence[tuple[str, Reception | None]]
    ) -> list[bool]:
        return await self.lease.first_deliveries(platform, claims)

    async def handled(self, platform: str, delivery_ids: Sequence[str]) -> None:
        await self.lease.handled(platform, delivery_ids)

    async def unhandled_receptions(self, platform: str) -> list[Reception]:
        return await self.lease.unhandled_receptions(platform)

    async def shutdown(self, grace_s: float) -> None:
        """Stop cleanly: turns in flight get ``grace_s`` to finish; the rest are interrupted
        and their chats told, with Retry. Nothing is lost and nothing is charged twice."""
        await self.pipeline.stop(grace_s)
        await self.lease.retire()

    async def abandon(self) -> None:
        """Stop as a killed process would: no heartbeat, no lock, nothing retired (tests)."""
        await self.lease.abandon()

    def health(self) -> str | None:
        return self.lease.health()

    def stop_heartbeat(self) -> None:
        self.lease.stop_heartbeat()

    async def drain(self) -> None:
        """Wait for every turn in flight (tests, and a clean shutdown)."""
        await self.pipeline.drain()

    @property
    def in_flight(self) -> int:
        return len(self.pipeline.jobs)
