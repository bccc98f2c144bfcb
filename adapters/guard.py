"""The engine calls a platform's handlers make, guarded: the handler never crashes.

The engine explains every expected failure itself; what reaches here is the unexpected
kind (the database gone, say). It is logged with what was being handled, and the user
hears of it rather than waiting forever.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.engine.records import MessageKey
from bot.engine.seams import ActionPress, Channel, Inbound, SettingOutcome, SettingPick
from bot.messages import render

log = logging.getLogger(__name__)


class EngineCalls(Protocol):
    """What a platform's handlers ask of the engine."""

    async def handle(self, inbound: Inbound, channel: Channel) -> None: ...

    async def press(self, press: ActionPress, channel: Channel) -> None: ...

    async def pick_setting(self, pick: SettingPick) -> SettingOutcome: ...


class Guard:
    """``engine``'s calls for one platform, answering through ``channel``; a failed
    apology (``platform_errors``) is logged, never raised."""

    def __init__(
        self,
        platform: str,
        engine: EngineCalls,
        channel: Channel,
        platform_errors: tuple[type[Exception], ...],
    ) -> None:
        self.platform = platform
        self.engine = engine
        self.channel = channel
        self.platform_errors = platform_errors

    async def handle(self, inbound: Inbound) -> None:
        try:
            await self.engine.handle(inbound, self.channel)
        except Exception:
            log.exception("%s: could not handle message %s", self.platform, inbound.key)
            await self.apologize(inbound.key, inbound.locale)

    async def press(self, press: ActionPress) -> None:
        try:
            await self.engine.press(press, self.channel)
        except Exception:
            log.exception(
                "%s: could not handle the %s button of turn %s", self.platform, press.kind, press.turn_id
            )
            await self.apologize(press.message, press.locale)

    async def pick(
        self, pick: SettingPick, show: Callable[[SettingOutcome], Awaitable[None]] | None = None
    ) -> SettingOutcome | None:
        """The engine's outcome, once ``show`` has shown it; None when either failed (logged):
        the platform then says so its own way (the press must be answered)."""
        try:
            outcome = await self.engine.pick_setting(pick)
            if show is not None:
                await show(outcome)
        except Exception:
            log.exception(
                "%s: could not change setting %s of chat %s", self.platform, pick.name, pick.message.chat_id
            )
            return None
        return outcome

    async def apologize(self, key: MessageKey, locale: str | None, message: str = "internal_error") -> None:
        try:
            await self.channel.send_text(key, render(message, locale))
        except self.platform_errors as error:
            log.warning("%s: could not apologize in chat %s: %s", self.platform, key.chat_id, error)
