"""Discord's rate limits, spent on results first.

discord.py keeps Discord's per-route buckets itself (from the X-RateLimit headers)
and waits out a 429, but first come, first served: a picture would queue behind
progress edits in the same channel's bucket. So every REST call the channel makes
first waits here for its turn by priority (:mod:`adapters.pacing`), staying a
little under Discord's limits, and discord.py's own handling stays underneath as
the backstop. A channel allows about 5 new messages and 5 edits per 5 s; the bot
about 50 calls a second. Progress never takes a channel's reserve (2 of the 5) and
takes at most ``progress_share`` of the bot's rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from adapters.pacing import BotRate, Budgets, Pacer, Ticket, Window


class Route(StrEnum):
    CREATE = "create"  # POST /channels/{id}/messages
    EDIT = "edit"  # PATCH /channels/{id}/messages/{id}
    DELETE = "delete"  # DELETE /channels/{id}/messages/{id}
    CARD = "card"  # an interaction's own response, through its webhook


@dataclass(frozen=True)
class RateLimits:
    global_per_s: float = 45.0
    channel_count: int = 5
    # Discord's window is 5 s from its first call, which reaches Discord a moment after it
    # leaves here: a little longer, so the two never disagree.
    channel_period_s: float = 5.2
    channel_reserve: int = 2
    progress_share: float = 1 / 3


class DiscordPacer:
    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits = limits or RateLimits()
        self.pacer = Pacer()
        self.rate = BotRate(limits.global_per_s, limits.global_per_s, limits.progress_share)

        def window() -> Window:
            return Window(limits.channel_count, limits.channel_period_s, limits.channel_reserve)

        self._routes = {route: Budgets(window) for route in (Route.CREATE, Route.EDIT, Route.DELETE)}

    async def wait(self, route: Route, channel_id: int, ticket: Ticket | None = None) -> None:
        """Wait for this call's turn (raises :class:`~adapters.pacing.Withdrawn` if withdrawn)."""
        ticket = ticket or Ticket()
        budgets = self.rate.budgets(ticket.priority)
        if route is not Route.CARD:
            budgets.append(self._routes[route](channel_id))
        await self.pacer.acquire(ticket, budgets)
