"""Who someone is in a Telegram chat (``getChatMember``), and a settings pick, which needs
to know: only a group's admins may change its settings."""

from __future__ import annotations

import logging

from telegram import CallbackQuery
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import ExtBot

from adapters.buttons import SettingButton
from adapters.guard import Guard
from adapters.pacing import Ticket
from adapters.telegram_adapter.inbound import chat_kind, message_key
from adapters.telegram_adapter.inline import RoutingChannel
from bot.engine.seams import ChatKind, SettingOutcome, SettingPick
from bot.messages import render

log = logging.getLogger(__name__)

Bot = ExtBot[Ticket]
ADMINS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
# In the chat now: ``restricted`` counts only with ``is_member``.
MEMBERS = (*ADMINS, ChatMemberStatus.MEMBER)


async def is_admin(bot: Bot, chat_id: int, user_id: int) -> bool:
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as error:
        log.warning("telegram: could not look up member %s of %s: %s", user_id, chat_id, error)
        return False
    return member.status in ADMINS


async def is_member(bot: Bot, chat_id: int, user_id: int) -> bool:
    """``user_id`` is in chat ``chat_id`` now (left, kicked, or any failure to tell: no)."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as error:
        log.info("telegram: could not look up member %s of %s: %s", user_id, chat_id, error)
        return False
    if member.status == ChatMemberStatus.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return member.status in MEMBERS


async def pick_setting(
    bot: Bot,
    guard: Guard,
    channel: RoutingChannel,
    query: CallbackQuery,
    button: SettingButton,
) -> None:
    """A settings keyboard's button: the pick, then the view edited in place."""
    message = query.message
    assert message is not None
    kind = chat_kind(message.chat)
    admin = kind is ChatKind.PRIVATE or await is_admin(bot, message.chat.id, query.from_user.id)
    pick = SettingPick(
        message=message_key(message.chat.id, message.message_id),
        user_id=str(query.from_user.id),
        chat_kind=kind,
        name=button.name,
        value=button.value,
        chat_admin=admin,
        locale=query.from_user.language_code,
    )

    async def show(outcome: SettingOutcome) -> None:
        if outcome.view is not None:
            await channel.edit_settings(pick.message, outcome.view)

    outcome = await guard.pick(pick, show)
    if outcome is None:
        # The spinner must stop, with a word of why, whatever went wrong.
        await query.answer(render("internal_error", pick.locale)[:200], show_alert=True)
        return
    # A refusal is an alert the user must dismiss; anything else a passing toast.
    await query.answer(outcome.notice[:200], show_alert=outcome.refused)
