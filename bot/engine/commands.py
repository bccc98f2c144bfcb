"""The commands the engine answers, as a table: ``/help``, ``/new``, ``/usage``,
``/history``, ``/cancel``, ``/settings``, ``/block``, ``/unblock``, ``/language``. Anything
not in it gets a pointer to ``/help``; ``/draw`` and ``/imagine`` are prompts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.engine.access import Gate
from bot.engine.admission import day_and_month
from bot.engine.language import language_command
from bot.engine.pipeline import Pipeline
from bot.engine.records import ChatState, SentMessage
from bot.engine.seams import Channel, Inbound
from bot.engine.settings import ChatSettings
from bot.engine.store import Store
from bot.engine.versions import Versions
from bot.messages import render, render_worded

# Commands that draw: their text is the prompt. "imagine" is Discord's /draw.
PROMPT_COMMANDS = ("draw", "imagine")


@dataclass(frozen=True)
class CommandCall:
    """One command as the engine got it: who sent it where, and what it replies to."""

    inbound: Inbound
    channel: Channel
    chat: ChatState
    replied: SentMessage | None
    # The platform's language, before /language overrode it (``/language auto`` shows it).
    platform_locale: str | None

    async def answer(self, text: str) -> None:
        await self.channel.send_text(self.inbound.key, text)


class Commands:
    def __init__(
        self,
        store: Store,
        gate: Gate,
        settings: ChatSettings,
        pipeline: Pipeline,
        clock: Callable[[], datetime],
        *,
        versions: Versions,
    ) -> None:
        self.store = store
        self.gate = gate
        self.settings = settings
        self.pipeline = pipeline
        self.versions = versions
        self.clock = clock
        self.table: Mapping[str, Callable[[CommandCall], Awaitable[None]]] = {
            "start": self.help,
            "help": self.help,
            "new": self.new,
            "usage": self.usage,
            "history": self.history,
            "cancel": self.cancel,
            "settings": self.settings_command,
            "block": self.block,
            "unblock": self.block,
            "language": self.language,
        }

    def known(self, command: str) -> bool:
        return command in self.table or command in PROMPT_COMMANDS

    async def help(self, call: CommandCall) -> None:
        inbound = call.inbound
        text = render_worded("help", inbound.wording, inbound.locale)
        if await self.gate.bot_admin(inbound.key.platform, inbound.user_id):
            text += render("help_admin", inbound.locale)
        await call.answer(text)

    async def new(self, call: CommandCall) -> None:
        await self.store.update_chat(*call.inbound.chat, clear_latest=True)
        await call.answer(render("new_conversation", call.inbound.locale))

    async def usage(self, call: CommandCall) -> None:
        inbound = call.inbound
        platform, chat_id = inbound.chat
        day, month = day_and_month(self.clock())
        today = await self.store.usage(platform, day, user_id=inbound.user_id)
        this_month = await self.store.usage(platform, month, user_id=inbound.user_id)
        chat = await self.store.usage(platform, month, chat_id=chat_id)
        await call.answer(
            render(
                "usage",
                inbound.locale,
                today_images=today[0],
                today_cost=f"{today[1]:.2f}",
                month_images=this_month[0],
                month_cost=f"{this_month[1]:.2f}",
                chat_images=chat[0],
                chat_cost=f"{chat[1]:.2f}",
            )
        )

    async def history(self, call: CommandCall) -> None:
        """How the replied picture was made (its versions as a contact sheet, and as text);
        without a reply, the chat's latest picture."""
        locale = call.inbound.locale
        replied = call.replied
        turn_id = replied.turn_id if replied is not None else call.chat.latest_turn_id
        if turn_id is None:
            await call.answer(render("history_needs_reply", locale))
            return
        index = replied.image_index or 0 if replied is not None else 0
        await self.versions.show(turn_id, index, call.inbound.key, call.channel, locale)

    async def cancel(self, call: CommandCall) -> None:
        inbound = call.inbound
        mine = self.pipeline.mine(*inbound.chat, inbound.user_id)
        if not any(self.pipeline.cancel(turn_id) for turn_id in mine):
            await call.answer(render("nothing_to_cancel", inbound.locale))

    async def settings_command(self, call: CommandCall) -> None:
        """``/settings`` shows them to pick from; ``/settings size 1536x1024`` changes one."""
        inbound = call.inbound
        if inbound.text.strip():
            await call.answer(await self.settings.command(inbound))
        else:
            await call.channel.send_settings(
                inbound.key, await self.settings.view(inbound.chat, inbound.locale)
            )

    async def block(self, call: CommandCall) -> None:
        await call.answer(await self.gate.block(call.inbound, blocked=call.inbound.command == "block"))

    async def language(self, call: CommandCall) -> None:
        inbound = call.inbound
        await call.answer(
            await language_command(
                self.store, inbound.key.platform, inbound.user_id, inbound.text, call.platform_locale
            )
        )
