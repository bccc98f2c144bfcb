"""Who may use the bot, and which messages are meant for it."""

from __future__ import annotations

from dataclasses import replace

from bot.engine.options import Access
from bot.engine.records import SentMessage, UserRecord
from bot.engine.seams import ChatKind, Inbound
from bot.engine.store import Store
from bot.messages import render


class Gate:
    def __init__(self, store: Store, access: Access) -> None:
        self.store = store
        self.access = access

    @staticmethod
    def addressed(inbound: Inbound, replied: SentMessage | None) -> bool:
        """Private chats always; elsewhere a command, a mention, or a reply to the bot."""
        private = inbound.chat_kind is ChatKind.PRIVATE
        return private or inbound.addressed or bool(inbound.command) or replied is not None

    def permits(self, platform: str, user_id: str, chat_id: str, user: UserRecord | None) -> bool:
        access = self.access
        if f"{platform}:{user_id}" in access.admins:
            return True  # the operator's own admins can't be locked out, not even by themselves
        if user is not None and user.blocked:
            return False
        if not access.allowed_users and not access.allowed_chats:
            return True
        return (
            f"{platform}:{user_id}" in access.allowed_users
            or f"{platform}:{chat_id}" in access.allowed_chats
            or (user is not None and (user.allowed or user.admin))
        )

    async def bot_admin(self, platform: str, user_id: str) -> bool:
        if f"{platform}:{user_id}" in self.access.admins:
            return True
        user = await self.store.user(platform, user_id)
        return user is not None and user.admin

    async def block(self, inbound: Inbound, *, blocked: bool) -> str:
        """/block and /unblock, for the bot's admins: a user id, or the author of the replied message."""
        platform = inbound.key.platform
        if not await self.bot_admin(platform, inbound.user_id):
            return render("admins_only", inbound.locale)
        words = inbound.text.split()
        target = words[0] if words else inbound.reply_user_id
        command = "block" if blocked else "unblock"
        # A user id as the platform gives it, not a @name (which would block nobody).
        if not target or len(words) > 1 or not target.replace("-", "").replace("_", "").isalnum():
            return render("block_usage", inbound.locale, command=command)
        if blocked and await self.bot_admin(platform, target):
            return render("block_admin", inbound.locale)
        current = await self.store.user(platform, target) or UserRecord(platform, target)
        await self.store.put_user(replace(current, blocked=blocked))
        return render("blocked_user" if blocked else "unblocked_user", inbound.locale, user=target)
