"""Whether a turn may run now: the limits (per user, per chat, overall) and the budgets
(per user per day, per chat per month), in this process's fair line and then in the
database, where they hold across every instance."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from bot.engine.limits import Limiter
from bot.engine.options import EngineOptions
from bot.engine.records import TurnRecord
from bot.engine.store import SlotRequest, SlotStatus, Store
from bot.errors import InputError
from bot.telemetry import metrics


class TurnTaken(Exception):
    """Another instance's recovery interrupted this turn (and told its chat) while it waited."""


def day_and_month(now: datetime) -> tuple[datetime, datetime]:
    """The start of the UTC day and of the month ``now`` falls in (budget and usage windows)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


class Admission:
    def __init__(self, store: Store, options: EngineOptions, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.options = options
        self.clock = clock
        limits = options.limits
        self.limiter = Limiter(limits.per_user, limits.per_chat, limits.global_)
        # Set (and replaced) whenever a turn of this process ends: its waiters look again.
        self._slot_freed = asyncio.Event()

    def freed(self) -> None:
        """A turn of this process ended: turns waiting on the database look again now."""
        freed, self._slot_freed = self._slot_freed, asyncio.Event()
        freed.set()

    @contextlib.asynccontextmanager
    async def slot(
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
                await self._claim(turn, estimate, on_place)
                metrics.WAITING.dec()
                waiting = False
                metrics.QUEUE_SECONDS.observe(time.monotonic() - waiting_since)
                yield
        finally:
            if waiting:
                metrics.WAITING.dec()

    async def _claim(self, turn: TurnRecord, estimate: float, on_place: Callable[[int], None]) -> None:
        """Wait until the turn fits every instance's limits and budgets, then hold its place."""
        request = self._request(estimate)
        while (outcome := await self.store.claim_slot(turn.id, request)).status is SlotStatus.BUSY:
            on_place(outcome.ahead + 1)
            # Another instance's turn gives no signal here: look again after a while.
            freed = self._slot_freed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(freed.wait(), self.options.slot_poll_s)
        if outcome.status is SlotStatus.GONE:
            raise TurnTaken()
        if outcome.status is not SlotStatus.CLAIMED:
            raise self._refusal(outcome.status, outcome.spent_usd, estimate)

    def _request(self, estimate: float) -> SlotRequest:
        limits, budgets = self.options.limits, self.options.budgets
        day, month = day_and_month(self.clock())
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

    async def early_refusal(self, turn: TurnRecord, estimate: float) -> InputError | None:
        """A refusal when the ledger alone leaves no room for this turn in a budget (the
        claim in :meth:`slot` checks again with every instance's running turns counted)."""
        budgets = self.options.budgets
        day, month = day_and_month(self.clock())
        if budgets.user_daily is not None:
            spent = await self.store.spent_usd(turn.platform, day, user_id=turn.user_id)
            if spent + estimate > budgets.user_daily:
                return self._refusal(SlotStatus.USER_BUDGET, spent, estimate)
        if budgets.chat_monthly is not None:
            spent = await self.store.spent_usd(turn.platform, month, chat_id=turn.chat_id)
            if spent + estimate > budgets.chat_monthly:
                return self._refusal(SlotStatus.CHAT_BUDGET, spent, estimate)
        return None

    def _refusal(self, which: SlotStatus, spent: float, estimate: float) -> InputError:
        """Why the turn can't run: the user's day or the chat's month is spent, and when it resets."""
        day, month = day_and_month(self.clock())
        if which is SlotStatus.USER_BUDGET:
            key, limit = "budget_user", self.options.budgets.user_daily
            shown = (day + timedelta(days=1)).strftime("%H:%M")
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
