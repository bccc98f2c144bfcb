"""Telegram's flood limits, spent on results first: a rate limiter for python-telegram-bot.

PTB's own ``AIORateLimiter`` makes every call wait its turn first come, first
served, so a finished picture queues behind progress edits. This one hands the
same limits out by priority (:mod:`adapters.pacing`): a call passes its
:class:`~adapters.pacing.Ticket` as ``rate_limit_args``; a call without one is a
result. Telegram counts messages sent, edited and deleted: about 30 a second
overall, about 1 a second in a chat (short bursts of a few), and 20 a minute in a
group. The bot stays a little under each, so a 429 is rare; when one comes
anyway, that chat waits ``retry_after`` and the call is made again, keeping its
place.

Progress (status messages, their edits, removing them) takes at most
``progress_share`` of the overall rate, never a chat's reserve (1 of a private
chat's burst, 5 of a group's 20 a minute), and in a group at most one status or
edit every ``group_progress_every_s`` (with a burst of two).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from adapters.pacing import BotRate, Budget, Budgets, Pacer, Priority, State, Ticket, TokenBucket

log = logging.getLogger(__name__)

# The methods Telegram counts against a chat: everything that sends, edits or deletes.
COUNTED = ("send", "edit", "delete", "copy", "forward")

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True)
class FloodLimits:
    # Telegram's 30 a second, with room to spare: under load the calls granted here reach
    # Telegram bunched (the event loop sends them when it gets to them), and a bunch beyond
    # Telegram's own burst is refused.
    overall_per_s: float = 27.0
    overall_burst: float = 15.0
    # A private chat: about one a second with a burst of three (a little slower, for safety).
    chat_per_s: float = 1 / 1.05
    chat_burst: int = 3
    chat_reserve: int = 1
    group_per_minute: float = 19.0
    group_burst: int = 19
    group_reserve: int = 5
    progress_share: float = 1 / 3
    group_progress_every_s: float = 10.0
    max_retries: int = 3


def _is_group(chat_id: object) -> bool:
    if isinstance(chat_id, str):
        chat_id = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
    return not isinstance(chat_id, int) or chat_id < 0


class PriorityRateLimiter(BaseRateLimiter[Ticket]):
    def __init__(self, limits: FloodLimits | None = None) -> None:
        self.limits = limits = limits or FloodLimits()
        self.pacer = Pacer()
        self.rate = BotRate(limits.overall_per_s, limits.overall_burst, limits.progress_share)
        self.chats = Budgets(lambda: TokenBucket(limits.chat_per_s, limits.chat_burst, limits.chat_reserve))
        self.groups = Budgets(
            lambda: TokenBucket(limits.group_per_minute / 60, limits.group_burst, limits.group_reserve)
        )
        self.group_progress = Budgets(lambda: TokenBucket(1 / limits.group_progress_every_s, 2))
        # Answers 429 the bot got (for the logs and the benchmark).
        self.flooded = 0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def budgets(self, endpoint: str, data: dict[str, Any], priority: Priority) -> list[Budget]:
        """What a call draws on: nothing for calls Telegram does not count."""
        chat_id = data.get("chat_id")
        if not endpoint.startswith(COUNTED):
            return []
        if chat_id is None:
            if data.get("inline_message_id") is None:
                return []
            # An inline message (adapters/telegram_adapter/inline.py) is in no chat of the
            # bot's: its edits draw on the overall rate alone, progress on progress's share.
            return self.rate.budgets(priority)
        budgets = [*self.rate.budgets(priority), self._chat(chat_id)]
        if _is_group(chat_id) and priority not in {Priority.RESULT, Priority.CLEANUP}:
            # Removing a finished status is not thinned: a stale one would say "drawing" for nothing.
            budgets.append(self.group_progress(chat_id))
        return budgets

    def _chat(self, chat_id: object) -> Budget:
        return self.groups(chat_id) if _is_group(chat_id) else self.chats(chat_id)

    async def process_request(  # noqa: PLR0917 (PTB's signature)
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Ticket | None,
    ) -> JSONResult:
        ticket = rate_limit_args if isinstance(rate_limit_args, Ticket) else Ticket()
        budgets = self.budgets(endpoint, data, ticket.priority)
        if not budgets:
            return await callback(*args, **kwargs)
        for attempt in range(self.limits.max_retries + 1):
            await self.pacer.acquire(ticket, budgets)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                self.flooded += 1
                if attempt == self.limits.max_retries:
                    raise
                wait = error._retry_after.total_seconds()
                chat_id = data.get("chat_id")
                log.info(
                    "telegram: %s in chat %s: flood limit, waiting %.0f s",
                    endpoint,
                    chat_id if chat_id is not None else data.get("inline_message_id"),
                    wait,
                )
                if chat_id is not None:
                    # The chat waits (not the whole bot): other chats may still have room.
                    self.pacer.hold(self._chat(chat_id), wait)
                else:
                    # An inline message: only this call waits.
                    await asyncio.sleep(wait)
                # It was never made: it may still be withdrawn while it waits again.
                ticket.state = State.NEW
        raise AssertionError("unreachable")
