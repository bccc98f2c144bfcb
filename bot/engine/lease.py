"""This instance among those sharing the database: its lease (a heartbeat), recovery after
instances that are gone, and the updates each instance took (exactly-once receptions)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.engine.options import EngineOptions
from bot.engine.pictures import Pictures, caption, reply_target, short
from bot.engine.records import TurnRecord
from bot.engine.seams import Channel
from bot.engine.store import Reception, Store
from bot.messages import render

log = logging.getLogger(__name__)

# Rows of instances that stopped without retiring are kept a day, for a look at what died.
DEAD_INSTANCES_KEPT_S = 24 * 3600.0


class Lease:
    def __init__(self, store: Store, options: EngineOptions, pictures: Pictures) -> None:
        self.store = store
        self.options = options
        self.pictures = pictures
        # Where each platform's chats are told about turns recovered from dead instances.
        self.channels: dict[str, Channel] = {}
        self.heartbeat: asyncio.Task[None] | None = None
        self._last_beat: float | None = None

    @property
    def instance_id(self) -> str:
        return self.options.instance_id

    async def join(self, channels: Mapping[str, Channel]) -> list[TurnRecord]:
        """Join the others on the database and recover after the instances that are gone;
        from then on a heartbeat renews the lease and sweeps up after instances that die."""
        self.channels = dict(channels)
        await self.store.heartbeat(self.instance_id)
        self._last_beat = time.monotonic()
        interrupted = await self._sweep()
        if self.heartbeat is None:
            self.heartbeat = asyncio.create_task(self._beat(), name="redraw-heartbeat")
        return interrupted

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_s)
            try:
                await self.store.heartbeat(self.instance_id)
                self._last_beat = time.monotonic()
                await self._sweep()
                await self.store.prune(self.options.deliveries_kept_s, DEAD_INSTANCES_KEPT_S)
            except Exception:
                # The database may be back at the next beat; the lease outlives a few misses.
                log.exception("heartbeat of instance %s failed", self.instance_id)

    async def _sweep(self) -> list[TurnRecord]:
        """Interrupt the turns of instances that are gone and tell their chats; send the
        pictures they drew but never sent."""
        me, lease = self.instance_id, self.options.lease_s
        interrupted = await self.store.interrupt_unfinished(lease, me)
        for turn in interrupted:
            channel = self.channels.get(turn.platform)
            if channel is None:
                continue
            text = render("interrupted", turn.locale, prompt=short(turn.prompt, 80))
            try:
                await self.pictures.tell(turn, channel, reply_target(turn), text, retry=True)
            except Exception:
                log.exception("could not tell chat %s about interrupted turn %s", turn.chat_id, turn.id)
        for turn in await self.store.take_undelivered(me, lease, self.options.undelivered_kept_s):
            channel = self.channels.get(turn.platform)
            if channel is None or not turn.output_blobs:
                continue
            log.info("turn %s was drawn and charged but never sent; sending it now", turn.id)
            try:
                await self.pictures.show_stored(turn, reply_target(turn), channel, caption(turn), turn.locale)
            except Exception:
                log.exception("could not send the stored pictures of turn %s", turn.id)
        return interrupted

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
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            self.heartbeat = None

    async def retire(self) -> None:
        """Every turn of ours is finished or interrupted: nothing is left under our lease."""
        if self.heartbeat is None:
            return
        self.stop_heartbeat()
        try:
            await self.store.retire_instance(self.instance_id)
        except Exception:
            log.exception("could not retire instance %s", self.instance_id)

    async def abandon(self) -> None:
        """Stop as a killed process would: no heartbeat, no lock, nothing retired (tests)."""
        self.stop_heartbeat()
        await self.store.abandon_instance(self.instance_id)

    # --- receptions -------------------------------------------------------------------

    async def first_delivery(
        self, platform: str, delivery_id: str, reception: Reception | None = None
    ) -> bool:
        """False when any instance already took this update (a webhook retried, a load
        balancer's second try): the adapter drops it. ``delivery_id`` is the adapter's own.
        With a ``reception`` (a message), it is kept until :meth:`handled`, so a crash before
        its turn is stored loses nothing: :meth:`unhandled_receptions` gives it back."""
        return (await self.first_deliveries(platform, [(delivery_id, reception)]))[0]

    async def first_deliveries(
        self, platform: str, claims: Sequence[tuple[str, Reception | None]]
    ) -> list[bool]:
        """:meth:`first_delivery` for a batch (a long poll's updates): one write for all."""
        mine = [
            (delivery_id, replace(reception, instance_id=self.instance_id) if reception else None)
            for delivery_id, reception in claims
        ]
        return await self.store.claim_deliveries(platform, mine)

    async def handled(self, platform: str, delivery_ids: Sequence[str]) -> None:
        """These receptions became turns, or were answered or ignored: nothing to recover."""
        await self.store.handled(platform, delivery_ids)

    async def unhandled_receptions(self, platform: str) -> list[Reception]:
        """Messages that instances now gone took but never handled (they died downloading a
        photo, or waiting for the rest of an album): now this instance's, oldest first."""
        return await self.store.take_receptions(platform, self.instance_id, self.options.lease_s)
