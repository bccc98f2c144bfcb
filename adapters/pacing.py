"""Results first on a platform's message budget.

Telegram and Discord count the bot's calls: overall, per chat (per channel), and
over short windows. Every call they count takes a token from each :class:`Budget`
it draws on. A :class:`Pacer` hands tokens out by :class:`Priority`: a finished
picture, an error or a refusal (``RESULT``) before a status message (``STATUS``),
before a progress edit (``TICK``), before clean-up (``CLEANUP``); first come, first
served within a priority. A call held back by a budget holds that budget for
itself (later calls can't take the token it waits for), but never budgets it could
already use: a result waiting on its own chat does not stop another chat.

Calls below ``RESULT`` also leave each budget's ``reserve`` untouched, so a result
in a chat finds a token there even right after progress was sent, and they draw
on budgets of their own (the progress share) that cap what progress can take.

A :class:`Ticket` names one call. Until the pacer grants it, it can be withdrawn
(a status message not needed any more): the call then raises :class:`Withdrawn`
and nothing reaches the platform.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Priority(IntEnum):
    RESULT = 0
    STATUS = 1
    TICK = 2
    CLEANUP = 3


class Withdrawn(Exception):
    """The call was withdrawn before it was made: nothing reached the platform."""


class Budget:
    """Tokens a platform allows; ``reserve`` of them are kept for results."""

    def __init__(self, reserve: int = 0) -> None:
        self.reserve = reserve
        self.held_until = 0.0

    def ready_at(self, now: float, reserve: int) -> float:
        """When a token can be taken leaving ``reserve`` behind (``now`` if at once)."""
        raise NotImplementedError

    def take(self, now: float) -> None:
        raise NotImplementedError

    def full(self, now: float) -> bool:
        """Nothing taken lately: the budget can be forgotten and made afresh."""
        raise NotImplementedError

    def hold(self, until: float) -> None:
        """The platform said "too many" (a 429): nothing until then."""
        self.held_until = max(self.held_until, until)


class TokenBucket(Budget):
    """``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float, reserve: int = 0) -> None:
        super().__init__(reserve)
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp: float | None = None

    def _refill(self, now: float) -> None:
        if self.stamp is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def ready_at(self, now: float, reserve: int) -> float:
        self._refill(now)
        missing = 1 + min(reserve, self.burst - 1) - self.tokens
        at = now if missing <= 0 else now + missing / self.rate
        return max(at, self.held_until)

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.burst and now >= self.held_until


class Window(Budget):
    """At most ``count`` calls per window of ``period`` seconds that opens with its first
    call and then resets whole: Discord's buckets (X-RateLimit-Reset-After)."""

    def __init__(self, count: int, period: float, reserve: int = 0) -> None:
        super().__init__(reserve)
        self.count = count
        self.period = period
        self.used = 0
        self.opened: float | None = None

    def _roll(self, now: float) -> None:
        if self.opened is not None and now >= self.opened + self.period:
            self.used, self.opened = 0, None

    def ready_at(self, now: float, reserve: int) -> float:
        self._roll(now)
        allowed = self.count - min(reserve, self.count - 1)
        at = now if self.used < allowed or self.opened is None else self.opened + self.period
        return max(at, self.held_until)

    def take(self, now: float) -> None:
        self._roll(now)
        if self.opened is None:
            self.opened = now
        self.used += 1

    def full(self, now: float) -> bool:
        self._roll(now)
        return self.used == 0 and now >= self.held_until


class BotRate:
    """A bot's overall rate, and the share of it progress may take (in bursts of half that)."""

    def __init__(self, per_s: float, burst: float, progress_share: float) -> None:
        self.overall = TokenBucket(per_s, burst)
        share = per_s * progress_share
        self.progress = TokenBucket(share, max(1.0, share / 2))

    def budgets(self, priority: Priority) -> list[Budget]:
        """What any call draws on: the overall rate, and progress's share unless it is a result."""
        return [self.overall] if priority is Priority.RESULT else [self.overall, self.progress]


class State(StrEnum):
    NEW = "new"
    QUEUED = "queued"
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


_order = itertools.count()


@dataclass(eq=False)
class Ticket:
    """One call waiting for its turn."""

    priority: Priority = Priority.RESULT
    state: State = State.NEW
    # Its place among calls of the same priority; kept when it waits again after a 429.
    seq: int = field(default_factory=lambda: next(_order))
    budgets: tuple[Budget, ...] = ()
    _granted: asyncio.Future[None] | None = None


class Pacer:
    def __init__(self) -> None:
        self._queue: list[Ticket] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def acquire(self, ticket: Ticket, budgets: Sequence[Budget]) -> None:
        """Wait until every budget allows the call (raises :class:`Withdrawn` if it was withdrawn)."""
        if ticket.state is State.WITHDRAWN:
            raise Withdrawn
        loop = asyncio.get_running_loop()
        ticket.budgets = tuple(budgets)
        ticket.state = State.QUEUED
        ticket._granted = loop.create_future()
        self._queue.append(ticket)
        self._pump()
        try:
            await ticket._granted
        except asyncio.CancelledError:
            if ticket in self._queue:
                self._queue.remove(ticket)
                ticket.state = State.WITHDRAWN
                self._pump()
            raise

    def withdraw(self, ticket: Ticket) -> bool:
        """True when the call had not been made (and now never will be)."""
        if ticket.state is State.NEW:
            ticket.state = State.WITHDRAWN
            return True
        if ticket.state is not State.QUEUED:
            return ticket.state is State.WITHDRAWN
        self._queue.remove(ticket)
        ticket.state = State.WITHDRAWN
        if ticket._granted is not None and not ticket._granted.done():
            ticket._granted.set_exception(Withdrawn())
        self._pump()
        return True

    def hold(self, budget: Budget, seconds: float) -> None:
        """The platform answered 429 for ``budget``: nothing there for ``seconds``."""
        budget.hold(asyncio.get_running_loop().time() + seconds)
        self._pump()

    def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        claimed: set[int] = set()
        next_at = math.inf
        self._queue.sort(key=lambda ticket: (ticket.priority, ticket.seq))
        for ticket in list(self._queue):
            low = ticket.priority is not Priority.RESULT
            waits_for: list[Budget] = []
            blocked = False
            for budget in ticket.budgets:
                if id(budget) in claimed:
                    blocked = True
                    continue
                at = budget.ready_at(now, budget.reserve if low else 0)
                if at > now:
                    waits_for.append(budget)
                    next_at = min(next_at, at)
            if not blocked and not waits_for:
                for budget in ticket.budgets:
                    budget.take(now)
                self._queue.remove(ticket)
                ticket.state = State.GRANTED
                assert ticket._granted is not None
                if not ticket._granted.done():
                    ticket._granted.set_result(None)
                continue
            claimed.update(id(budget) for budget in waits_for)
        self._wake_at(loop, next_at)

    def _wake_at(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if at == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at < math.inf:
            self._timer = loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        self._pump()


class Budgets:
    """Budgets made on first use by key (a chat, a channel), and forgotten once full again,
    so nothing is kept per chat that has been quiet. A forgotten budget still held by a
    waiting call is full, so that call's chat starts afresh either way."""

    def __init__(self, make: Callable[[], Budget]) -> None:
        self._make = make
        self._by_key: dict[object, Budget] = {}

    def __call__(self, key: object) -> Budget:
        budget = self._by_key.get(key)
        if budget is None:
            if len(self._by_key) >= 1024:
                self._forget()
            budget = self._by_key[key] = self._make()
        return budget

    def _forget(self) -> None:
        now = asyncio.get_running_loop().time()
        for key, budget in list(self._by_key.items()):
            if budget.full(now):
                del self._by_key[key]
