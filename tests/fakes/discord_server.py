"""A fake Discord on 127.0.0.1 for the real discord.py: its REST API, its gateway and
its CDN, over real HTTP and a real websocket.

discord.py reaches it through the adapter's client, which sends what discord.py addresses
to Discord to ``DISCORD_API_BASE_URL``/``DISCORD_GATEWAY_URL`` (its own, not class-wide). The
gateway says HELLO, takes IDENTIFY (and records the intents), sends READY and a
GUILD_CREATE per guild, answers heartbeats and dispatches what tests make users do:
messages (with attachments, mentions and replies), slash commands, button presses
and select picks. REST keeps every message the bot sends, edits or deletes, and the
interaction callbacks and webhook edits it makes; every file uploaded is served back
from the CDN.

It refuses what Discord refuses: content over 2000 characters, more than 10
attachments, a file over the guild's upload limit (10 MiB without boosts), a
``custom_id`` over 100 characters, more than 5 rows of components or 5 buttons in a
row, a reply to a message that does not exist (unless told not to mind), a second
response to one interaction, a message content the gateway would not carry without
the message-content intent. A refused privileged intent closes the gateway with
4014, as Discord does. With :meth:`FakeDiscord.limit_rates` it enforces Discord's
rate limits, with their headers (:mod:`tests.fakes.discord_limits`); off by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import mimetypes
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web
from PIL import Image

from tests.fakes.discord_limits import RateLimits, RateModel

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.fake.discord-token-0123456789"
BOT_ID = 100_000_000_000_000_001
APP_ID = BOT_ID
MAX_CONTENT = 2000
MAX_FILES = 10
MAX_CUSTOM_ID = 100
MAX_ROWS = 5
MAX_ROW_BUTTONS = 5
MIB = 1024 * 1024
# Upload limit by boost tier (Discord's: 10 MiB unboosted, 50 MiB at tier 2, 100 MiB at tier 3).
UPLOAD_LIMITS = {0: 10 * MIB, 1: 10 * MIB, 2: 50 * MIB, 3: 100 * MIB}
MESSAGE_CONTENT_INTENT = 1 << 15
DISCORD_EPOCH_MS = 1_420_070_400_000
# Every permission bit: the guild owner's.
ALL_PERMISSIONS = (1 << 50) - 1
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 15) | (1 << 16) | (1 << 31)  # view, send, files, history
MANAGE_CHANNELS = 1 << 4

T = TypeVar("T")


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class User:
    id: int
    name: str
    locale: str = "en-US"
    bot: bool = False

    def json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name.lower(),
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
        }


BOT = User(BOT_ID, "Redraw", bot=True)


@dataclass
class Guild:
    id: int
    name: str
    channel_id: int
    owner_id: int
    locale: str = "en-US"
    premium_tier: int = 0
    # Members who may manage channels (besides the owner).
    managers: set[int] = field(default_factory=set)
    # False: a server where only a user installed the app; the bot can't read or post there.
    bot_member: bool = True

    @property
    def upload_limit(self) -> int:
        return UPLOAD_LIMITS[self.premium_tier]

    def permissions(self, user_id: int) -> int:
        if user_id in (self.owner_id, BOT_ID):
            return ALL_PERMISSIONS
        return MEMBER_PERMISSIONS | (MANAGE_CHANNELS if user_id in self.managers else 0)

    def channel_json(self) -> dict[str, Any]:
        return {
            "id": str(self.channel_id),
            "type": 0,
            "guild_id": str(self.id),
            "name": "art",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
        }

    def json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "preferred_locale": self.locale,
            "premium_tier": self.premium_tier,
            "features": [],
            "roles": [
                {
                    "id": str(self.id),
                    "name": "@everyone",
                    "permissions": str(MEMBER_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [self.channel_json()],
            "threads": [],
            "members": [member_json(BOT, self)],
            "member_count": 3,
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "large": False,
            "unavailable": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_flags": 0,
        }


def member_json(user: User, guild: Guild) -> dict[str, Any]:
    return {
        "user": user.json(),
        "roles": [],
        "joined_at": "2026-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": str(guild.permissions(user.id)),
    }


@dataclass
class Upload:
    filename: str
    data: bytes
    content_type: str


@dataclass
class Call:
    """One REST call the bot made."""

    method: str
    path: str
    body: dict[str, Any]
    files: list[Upload]
    at: float = field(default_factory=time.monotonic)


@dataclass
class InteractionRecord:
    id: int
    token: str
    user: User
    channel_id: int
    guild: Guild | None
    # Callback types, in order (4 message, 5 deferred, 6 deferred update, 7 update, 9 modal).
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    # The message id of the original response, once there is one.
    original_id: int | None = None
    ephemeral: bool = False
    # The modal the bot answered with (callback type 9), if it did.
    modal: dict[str, Any] | None = None


class FakeDiscord:
    def __init__(self) -> None:
        self._ids = itertools.count(1_100_000_000_000_000_000)
        self.guilds: list[Guild] = []
        # Every message, by id: the users' and the bot's (deleted ones keep ``deleted``).
        self.messages: dict[int, dict[str, Any]] = {}
        self.files: dict[str, Upload] = {}
        # The CDN names of the files the bot downloaded, in order.
        self.downloads: list[str] = []
        self.calls: list[Call] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self.commands: list[dict[str, Any]] = []
        self.intents: int | None = None
        # Privileged intents the application is allowed (the Developer Portal's switches).
        self.allowed_intents = MESSAGE_CONTENT_INTENT
        self.identifies = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._sequence = itertools.count(1)
        self._dms: dict[int, int] = {}
        # Group DMs (channel ids) where users run the user-installed app; the bot is never in them.
        self.group_dms: set[int] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0
        # (method, path start, retry_after): the next matching REST call gets a 429.
        self._rate_limits: list[tuple[str, str, float]] = []
        # Discord's rate limits, when switched on (``limit_rates``); the calls refused by them.
        self.rates: RateLimits | None = None
        self.limited: list[Call] = []
        # When each user message was dispatched to the bot, by message id.
        self.said_at: dict[int, float] = {}

    # --- server -----------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application(client_max_size=200 * MIB)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{name}", self._cdn)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def add_guild(
        self,
        name: str = "Artists",
        *,
        owner: User,
        locale: str = "en-US",
        premium_tier: int = 0,
        managers: set[int] | None = None,
        bot_member: bool = True,
    ) -> Guild:
        guild = Guild(
            next(self._ids),
            name,
            next(self._ids),
            owner.id,
            locale,
            premium_tier,
            managers or set(),
            bot_member,
        )
        self.guilds.append(guild)
        return guild

    def _now_id(self) -> int:
        """A snowflake of this very moment: discord.py reads an interaction's age from its id
        (its token lasts 15 minutes)."""
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0x3FFFFF)

    @property
    def member_guilds(self) -> list[Guild]:
        return [guild for guild in self.guilds if guild.bot_member]

    def dm_channel(self, user: User) -> int:
        if user.id not in self._dms:
            self._dms[user.id] = next(self._ids)
        return self._dms[user.id]

    # --- gateway ----------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            op = message.get("op")
            if op == 1:
                await socket.send_json({"op": 11})
            elif op == 2:
                await self._identify(socket, message["d"])
        with contextlib.suppress(ValueError):
            self._sockets.remove(socket)
        return socket

    async def _identify(self, socket: web.WebSocketResponse, data: dict[str, Any]) -> None:
        assert data["token"] == TOKEN, "the bot identified with another token"
        intents = int(data.get("intents", 0))
        if intents & MESSAGE_CONTENT_INTENT and not self.allowed_intents & MESSAGE_CONTENT_INTENT:
            await socket.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.intents = intents
        self.identifies += 1
        ready = {
            "v": 10,
            "user": BOT.json(),
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in self.member_guilds],
            "session_id": f"session-{self.identifies}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        self._sockets.append(socket)
        await self._send(socket, "READY", ready)
        for guild in self.member_guilds:
            await self._send(socket, "GUILD_CREATE", guild.json())

    async def _send(self, socket: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        await socket.send_json({"op": 0, "t": event, "s": next(self._sequence), "d": data})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self._sockets, "the bot is not connected to the gateway"
        for socket in list(self._sockets):
            await self._send(socket, event, data)

    async def close_gateway(self, code: int, reason: str) -> None:
        """Discord ends every gateway session with ``code`` (4004: the token was revoked)."""
        for socket in list(self._sockets):
            await socket.close(code=code, message=reason.encode())

    @property
    def connected(self) -> bool:
        return bool(self._sockets)

    def limit_rates(self, model: RateModel | None = None) -> None:
        """Enforce Discord's rate limits from now on (:mod:`tests.fakes.discord_limits`)."""
        self.rates = RateLimits(model or RateModel())

    def rate_limit_next(self, method: str, path_start: str, retry_after: float) -> None:
        """The next ``method`` call to a path starting with ``path_start`` is told to wait."""
        self._rate_limits.append((method, path_start, retry_after))

    # --- users act --------------------------------------------------------------

    def upload(self, filename: str, data: bytes, content_type: str = "image/png") -> dict[str, Any]:
        """A file a user attaches (to a message or a slash command), served by the CDN. Like
        Discord, a picture's attachment states its width and height."""
        attachment_id = next(self._ids)
        name = f"{attachment_id}-{filename}"
        self.files[name] = Upload(filename, data, content_type)
        attachment = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": f"http://127.0.0.1:{self.port}/cdn/{name}",
            "proxy_url": f"http://127.0.0.1:{self.port}/cdn/{name}",
            "content_type": content_type,
        }
        with (
            warnings.catch_warnings(),
            contextlib.suppress(OSError, ValueError, Image.DecompressionBombError),
        ):
            # Discord states a huge picture's size as readily as a small one's.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                attachment["width"], attachment["height"] = image.size
        return attachment

    async def say(
        self,
        user: User,
        content: str,
        *,
        guild: Guild | None = None,
        mention_bot: bool = False,
        attachments: list[dict[str, Any]] | None = None,
        reply_to: int | None = None,
    ) -> int:
        """A user posts a message in ``guild``'s channel (or in a DM with the bot)."""
        channel_id = guild.channel_id if guild else self.dm_channel(user)
        if mention_bot:
            content = f"<@{BOT_ID}> {content}".strip()
        message = self._message(
            user,
            channel_id=channel_id,
            guild=guild,
            content=content,
            attachments=attachments or [],
            reply_to=reply_to,
        )
        mentions = [BOT.json()] if mention_bot else []
        if reply_to is not None:
            replied = self.messages[reply_to]
            author = replied["author"]
            # A reply pings its author by default: they count as mentioned.
            if author not in mentions:
                mentions.append(author)
        message["mentions"] = mentions
        self.messages[int(message["id"])] = message
        self.said_at[int(message["id"])] = time.monotonic()
        if guild is None or guild.bot_member:
            await self.dispatch("MESSAGE_CREATE", self._as_delivered(message))
        return int(message["id"])

    def _as_delivered(self, message: dict[str, Any]) -> dict[str, Any]:
        """What the gateway carries: no content without the intent, except in DMs and mentions."""
        delivered = dict(message)
        intents = self.intents or 0
        in_dm = message.get("guild_id") is None
        mentioned = any(int(user["id"]) == BOT_ID for user in message.get("mentions", []))
        if not intents & MESSAGE_CONTENT_INTENT and not in_dm and not mentioned:
            delivered.update(content="", attachments=[], embeds=[], components=[])
        return delivered

    def _message(
        self,
        author: User,
        *,
        channel_id: int,
        guild: Guild | None,
        content: str,
        attachments: list[dict[str, Any]],
        reply_to: int | None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": str(next(self._ids)),
            "channel_id": str(channel_id),
            "author": author.json(),
            "content": content,
            "timestamp": "2026-11-22T12:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if guild is not None:
            message["guild_id"] = str(guild.id)
            message["member"] = {k: v for k, v in member_json(author, guild).items() if k != "user"}
        if reply_to is not None:
            replied = self.messages.get(reply_to)
            if replied is None or replied.get("deleted"):
                raise ApiError(400, 50035, "Unknown message to reply to")
            message["type"] = 19
            message["message_reference"] = {
                "type": 0,
                "message_id": str(reply_to),
                "channel_id": str(channel_id),
                **({"guild_id": str(guild.id)} if guild else {}),
            }
            message["referenced_message"] = {k: v for k, v in replied.items() if k != "referenced_message"}
        return message

    async def slash(
        self,
        user: User,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        guild: Guild | None = None,
        attachments: dict[str, dict[str, Any]] | None = None,
        locale: str | None = None,
        group_dm: int | None = None,
    ) -> InteractionRecord:
        """A user runs ``/name`` with ``options`` (strings), and ``attachments`` by option name
        (``group_dm``: in that group DM, through their installed app)."""
        command = next((c for c in self.commands if c["name"] == name), None)
        assert command is not None, (
            f"/{name} was not registered; registered: {[c['name'] for c in self.commands]}"
        )
        typed = {option["name"]: option["type"] for option in command.get("options", [])}
        given: list[dict[str, Any]] = []
        for option, value in (options or {}).items():
            assert option in typed, f"/{name} has no option {option!r}"
            given.append({"name": option, "type": typed[option], "value": value})
        resolved: dict[str, Any] = {}
        for option, attachment in (attachments or {}).items():
            assert typed.get(option) == 11, f"/{name} has no attachment option {option!r}"
            given.append({"name": option, "type": 11, "value": attachment["id"]})
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        data = {"id": command["id"], "name": name, "type": 1, "options": given}
        if resolved:
            data["resolved"] = resolved
        return await self._interact(user, guild, 2, data, locale=locale, group_dm=group_dm)

    async def slash_message(
        self,
        user: User,
        name: str,
        message_id: int,
        *,
        guild: Guild | None = None,
        group_dm: int | None = None,
    ) -> InteractionRecord:
        """A user picks ``name`` from a message's Apps menu (a message command)."""
        command = next((c for c in self.commands if c["name"] == name and c.get("type") == 3), None)
        assert command is not None, f"no message command {name!r}"
        target = self._live(message_id)
        data = {
            "id": command["id"],
            "name": name,
            "type": 3,
            "target_id": str(message_id),
            "resolved": {"messages": {str(message_id): target}},
        }
        return await self._interact(user, guild, 2, data, group_dm=group_dm)

    async def submit_modal(self, opened: InteractionRecord, values: list[str]) -> InteractionRecord:
        """The user fills in the modal the bot answered ``opened`` with, text input by text input."""
        modal = opened.modal
        assert modal is not None, "the bot answered with no modal"
        answers = iter(values)

        def filled(component: dict[str, Any]) -> dict[str, Any]:
            if component["type"] == 1:
                return {"type": 1, "components": [filled(child) for child in component["components"]]}
            if component["type"] == 18:
                return {"type": 18, "component": filled(component["component"])}
            assert component["type"] == 4, f"a modal component of type {component['type']}"
            return {"type": 4, "custom_id": component["custom_id"], "value": next(answers)}

        data = {"custom_id": modal["custom_id"], "components": [filled(c) for c in modal["components"]]}
        channel = opened.channel_id if opened.channel_id in self.group_dms else None
        return await self._interact(opened.user, opened.guild, 5, data, group_dm=channel)

    def add_group_dm(self) -> int:
        channel_id = next(self._ids)
        self.group_dms.add(channel_id)
        return channel_id

    async def press(
        self, message_id: int, label: str, user: User, *, guild: Guild | None = None
    ) -> InteractionRecord:
        """A user presses the button whose label starts with ``label`` on a bot message."""
        message = self.messages[message_id]
        for row in message.get("components", []):
            for component in row.get("components", []):
                if component.get("type") == 2 and component.get("label", "").startswith(label):
                    data = {"custom_id": component["custom_id"], "component_type": 2}
                    return await self._interact(user, guild, 3, data, message=message)
        raise AssertionError(f"no button {label!r} on message {message_id}: {self.buttons(message_id)}")

    async def pick(
        self, message_id: int, custom_id: str, value: str, user: User, *, guild: Guild | None = None
    ) -> InteractionRecord:
        """A user picks ``value`` in the select menu ``custom_id`` of a message."""
        message = self.messages[message_id]
        for row in message.get("components", []):
            for component in row.get("components", []):
                if component.get("type") == 3 and component["custom_id"] == custom_id:
                    values = [option["value"] for option in component["options"]]
                    assert value in values, f"{value!r} is not offered by {custom_id}: {values}"
                    data = {"custom_id": custom_id, "component_type": 3, "values": [value]}
                    return await self._interact(user, guild, 3, data, message=message)
        raise AssertionError(f"no select {custom_id!r} on message {message_id}")

    async def _interact(
        self,
        user: User,
        guild: Guild | None,
        kind: int,
        data: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
        locale: str | None = None,
        group_dm: int | None = None,
    ) -> InteractionRecord:
        if group_dm is not None:
            channel_id = group_dm
        else:
            channel_id = guild.channel_id if guild else self.dm_channel(user)
        record = InteractionRecord(self._now_id(), f"itoken-{next(self._ids)}", user, channel_id, guild)
        if message is not None:
            # A component's interaction: its "original response" is the message the component is on.
            record.original_id = int(message["id"])
        self.interactions[record.id] = record
        payload: dict[str, Any] = {
            "id": str(record.id),
            "application_id": str(APP_ID),
            "type": kind,
            "data": data,
            "channel_id": str(channel_id),
            "token": record.token,
            "version": 1,
            "locale": locale or user.locale,
            "app_permissions": str(ALL_PERMISSIONS),
            "attachment_size_limit": guild.upload_limit if guild else UPLOAD_LIMITS[0],
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id) if guild else "0"},
            "context": 0 if guild else 1,
        }
        if (guild is not None and not guild.bot_member) or group_dm is not None:
            # Only the user's install lets this through: the bot is not where it happens.
            payload["authorizing_integration_owners"] = {"1": str(user.id)}
            payload["context"] = 0 if guild is not None else 2
            payload["app_permissions"] = str(MEMBER_PERMISSIONS)
        if guild is not None:
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = guild.locale
            payload["member"] = member_json(user, guild)
            payload["channel"] = guild.channel_json()
        elif group_dm is not None:
            payload["user"] = user.json()
            payload["channel"] = {"id": str(channel_id), "type": 3, "recipients": [user.json()]}
        else:
            payload["user"] = user.json()
            payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": [user.json()]}
        if message is not None:
            payload["message"] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    # --- what the bot did ---------------------------------------------------------

    def bot_messages(self, channel_id: int | None = None, *, live: bool = True) -> list[dict[str, Any]]:
        """The bot's messages, oldest first (``live``: not deleted)."""
        return [
            message
            for message in self.messages.values()
            if int(message["author"]["id"]) == BOT_ID
            and (channel_id is None or int(message["channel_id"]) == channel_id)
            and not (live and message.get("deleted"))
        ]

    def replies_to(self, message_id: int, *, live: bool = True) -> list[dict[str, Any]]:
        return [
            message
            for message in self.bot_messages(live=live)
            if message.get("message_reference", {}).get("message_id") == str(message_id)
        ]

    def buttons(self, message_id: int) -> list[str]:
        message = self.messages[message_id]
        return [
            component.get("label", "")
            for row in message.get("components", [])
            for component in row.get("components", [])
            if component.get("type") == 2
        ]

    def file(self, attachment: dict[str, Any]) -> bytes:
        return self.files[attachment["url"].rsplit("/", 1)[1]].data

    def calls_to(self, method: str, path_start: str) -> list[Call]:
        return [call for call in self.calls if call.method == method and call.path.startswith(path_start)]

    async def wait_for(self, probe: Callable[[], T | None], within: float = 15.0, what: str = "") -> T:
        deadline = time.monotonic() + within
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or probe}")
            await asyncio.sleep(0.02)

    async def wait_message(
        self,
        channel_id: int,
        probe: Callable[[dict[str, Any]], bool],
        *,
        after: int = 0,
        within: float = 15.0,
        what: str = "",
    ) -> dict[str, Any]:
        """The first live bot message in the channel, newer than ``after``, that ``probe`` accepts."""

        def find() -> dict[str, Any] | None:
            for message in self.bot_messages(channel_id):
                if int(message["id"]) > after and probe(message):
                    return message
            return None

        return await self.wait_for(find, within=within, what=what)

    async def wait_text(
        self, channel_id: int, contains: str, *, after: int = 0, within: float = 15.0
    ) -> dict[str, Any]:
        return await self.wait_message(
            channel_id,
            lambda m: contains in m["content"],
            after=after,
            within=within,
            what=f"a message with {contains!r}",
        )

    async def wait_picture(self, channel_id: int, *, after: int = 0, within: float = 15.0) -> dict[str, Any]:
        """The next bot message carrying a picture (not a progress preview)."""
        return await self.wait_message(
            channel_id,
            lambda m: any(a["filename"].startswith("redraw-") for a in m["attachments"]),
            after=after,
            within=within,
            what="a picture",
        )

    async def settle(self, quiet: float = 0.3, within: float = 10.0) -> None:
        """Wait until the bot has made no REST call for ``quiet`` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            last = self.calls[-1].at if self.calls else 0.0
            if time.monotonic() - last >= quiet:
                return
            await asyncio.sleep(quiet / 3)
        raise AssertionError("the bot never went quiet")

    # --- REST -------------------------------------------------------------------

    async def _cdn(self, request: web.Request) -> web.Response:
        upload = self.files.get(request.match_info["name"])
        if upload is None:
            return web.Response(status=404)
        self.downloads.append(request.match_info["name"])
        return web.Response(body=upload.data, content_type=upload.content_type)

    async def _rest(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bot {TOKEN}" and not request.path.startswith(
            ("/api/v10/interactions/", "/api/v10/webhooks/")
        ):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        body, files = await _read_body(request)
        path = "/" + request.match_info["path"]
        call = Call(request.method, path, body, files)
        self.calls.append(call)
        limits: dict[str, str] = {}
        if self.rates is not None:
            limits, refusal = self.rates.check(request.method, path)
            if refusal is not None:
                self.limited.append(call)
                return refusal
        for limit in self._rate_limits:
            method, start, retry_after = limit
            if request.method == method and path.startswith(start):
                self._rate_limits.remove(limit)
                # "Via" marks it as Discord's own limit, not a Cloudflare ban (discord.py checks).
                return web.Response(
                    body=json.dumps(
                        {
                            "message": "You are being rate limited.",
                            "retry_after": retry_after,
                            "global": False,
                        }
                    ).encode(),
                    status=429,
                    headers={
                        "Content-Type": "application/json",
                        "Via": "1.1 google",
                        "X-RateLimit-Scope": "user",
                    },
                )
        try:
            result = self._route(request.method, path.strip("/").split("/"), body, files)
        except ApiError as error:
            return _json({"message": error.message, "code": error.code}, status=error.status)
        if result is None:
            return web.Response(status=204, headers=limits)
        response = _json(result)
        response.headers.update(limits)
        return response

    def _route(self, method: str, parts: list[str], body: dict[str, Any], files: list[Upload]) -> Any:
        if parts[:1] == ["channels"] and len(parts) > 1 and not self._bot_may_access(int(parts[1])):
            raise ApiError(403, 50001, "Missing Access")
        match method, parts:
            case "GET", ["users", "@me"]:
                return BOT.json()
            case "GET", ["oauth2", "applications", "@me"]:
                return _application()
            case "PUT", ["applications", _, "commands"]:
                self.commands = [
                    {
                        "description": "",
                        **command,
                        "id": str(next(self._ids)),
                        "application_id": str(APP_ID),
                        "version": "1",
                    }
                    for command in body["_list"]
                ]
                return self.commands
            case "POST", ["channels", channel, "messages"]:
                return self._create(int(channel), body, files)
            case "POST", ["channels", _, "typing"]:
                return None
            case "GET", ["channels", _, "messages", message_id]:
                return self._live(int(message_id))
            case "PATCH", ["channels", _, "messages", message_id]:
                return self._edit(int(message_id), body, files)
            case "DELETE", ["channels", _, "messages", message_id]:
                self._live(int(message_id))["deleted"] = True
                return None
            case "POST", ["interactions", interaction_id, token, "callback"]:
                return self._callback(int(interaction_id), token, body, files)
            case "GET", ["webhooks", _, token, "messages", "@original"]:
                return self._live(self._original(token))
            case "PATCH", ["webhooks", _, token, "messages", "@original"]:
                return self._edit(self._original(token), body, files)
            case "DELETE", ["webhooks", _, token, "messages", "@original"]:
                self._live(self._original(token))["deleted"] = True
                return None
            case "POST", ["webhooks", _, token]:
                record = self._by_token(token)
                return self._create(record.channel_id, body, files, interaction=record)
            case "PATCH", ["webhooks", _, token, "messages", message_id]:
                self._by_token(token)
                return self._edit(int(message_id), body, files)
            case "DELETE", ["webhooks", _, token, "messages", message_id]:
                self._by_token(token)
                self._live(int(message_id))["deleted"] = True
                return None
        raise ApiError(404, 0, f"404: Not Found ({method} /{'/'.join(parts)})")

    def _live(self, message_id: int) -> dict[str, Any]:
        message = self.messages.get(message_id)
        if message is None or message.get("deleted"):
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _by_token(self, token: str) -> InteractionRecord:
        record = next((r for r in self.interactions.values() if r.token == token), None)
        if record is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        return record

    def _original(self, token: str) -> int:
        record = self._by_token(token)
        if record.original_id is None:
            raise ApiError(404, 10008, "Unknown Message")
        return record.original_id

    def _bot_may_access(self, channel_id: int) -> bool:
        """A channel of a server the bot is not in, or a group DM, is out of its reach."""
        guild = self._guild_of(channel_id)
        if guild is not None:
            return guild.bot_member
        return channel_id not in self.group_dms

    def _guild_of(self, channel_id: int) -> Guild | None:
        return next((guild for guild in self.guilds if guild.channel_id == channel_id), None)

    def _check(self, channel_id: int, body: dict[str, Any], files: list[Upload]) -> None:
        content = body.get("content") or ""
        if len(content) > MAX_CONTENT:
            raise ApiError(400, 50035, f"content: Must be {MAX_CONTENT} or fewer in length.")
        kept = [a for a in body.get("attachments", []) if isinstance(a.get("id"), str)]
        if len(files) + len(kept) > MAX_FILES:
            raise ApiError(400, 50035, "files: Must be 10 or fewer in length.")
        guild = self._guild_of(channel_id)
        limit = guild.upload_limit if guild else UPLOAD_LIMITS[0]
        for upload in files:
            if len(upload.data) > limit:
                raise ApiError(413, 40005, "Request entity too large")
        rows = body.get("components") or []
        if len(rows) > MAX_ROWS:
            raise ApiError(400, 50035, "components: Must be 5 or fewer in length.")
        for row in rows:
            items = row.get("components", [])
            if sum(1 for item in items if item.get("type") == 2) > MAX_ROW_BUTTONS:
                raise ApiError(400, 50035, "components: a row holds at most 5 buttons.")
            for item in items:
                if len(item.get("custom_id", "")) > MAX_CUSTOM_ID:
                    raise ApiError(400, 50035, "custom_id: Must be 100 or fewer in length.")
                if item.get("type") == 3 and len(item.get("options", [])) > 25:
                    raise ApiError(400, 50035, "options: Must be 25 or fewer in length.")

    def _stored_files(self, files: list[Upload]) -> list[dict[str, Any]]:
        # Discord states an upload's type from its name, whatever the multipart part says.
        return [
            self.upload(upload.filename, upload.data, _content_type(upload.filename, upload.content_type))
            for upload in files
        ]

    def _create(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[Upload],
        *,
        interaction: InteractionRecord | None = None,
    ) -> dict[str, Any]:
        self._check(channel_id, body, files)
        if not body.get("content") and not files and not body.get("components") and not body.get("embeds"):
            raise ApiError(400, 50006, "Cannot send an empty message")
        guild = self._guild_of(channel_id)
        reference = body.get("message_reference")
        reply_to = None
        if reference is not None:
            reply_to = int(reference["message_id"])
            target = self.messages.get(reply_to)
            if target is None or target.get("deleted"):
                if reference.get("fail_if_not_exists", True):
                    raise ApiError(400, 50035, "message_reference: Unknown message")
                reply_to = None
        message = self._message(
            BOT,
            channel_id=channel_id,
            guild=guild,
            content=body.get("content") or "",
            attachments=[],
            reply_to=reply_to,
        )
        message["attachments"] = self._stored_files(files)
        message["components"] = _components(body.get("components") or [])
        message["embeds"] = body.get("embeds") or []
        if interaction is not None:
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": 2,
                "user": interaction.user.json(),
            }
            if int(body.get("flags") or 0) & 64:
                message["flags"] = 64
        self.messages[int(message["id"])] = message
        return message

    def _edit(self, message_id: int, body: dict[str, Any], files: list[Upload]) -> dict[str, Any]:
        message = self._live(message_id)
        if int(message["author"]["id"]) != BOT_ID:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._check(int(message["channel_id"]), body, files)
        if "content" in body:
            message["content"] = body["content"] or ""
        if "components" in body:
            message["components"] = _components(body["components"] or [])
        if "attachments" in body:
            keep = {str(a["id"]) for a in body["attachments"] if isinstance(a.get("id"), str)}
            message["attachments"] = [a for a in message["attachments"] if a["id"] in keep]
        message["attachments"] = message["attachments"] + self._stored_files(files)
        message["edited_timestamp"] = "2026-11-22T12:00:01+00:00"
        return message

    def _callback(self, interaction_id: int, token: str, body: dict[str, Any], files: list[Upload]) -> Any:
        record = self.interactions.get(interaction_id)
        if record is None or record.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        if record.callbacks:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        kind = int(body["type"])
        record.callbacks.append(body)
        data = body.get("data") or {}
        ephemeral = bool(int(data.get("flags") or 0) & 64)
        message: dict[str, Any] | None = None
        if kind in (4, 5):
            record.ephemeral = ephemeral
            content = data.get("content") or ("" if kind == 4 else "Redraw is thinking…")
            message = self._create(record.channel_id, {**data, "content": content}, files, interaction=record)
            record.original_id = int(message["id"])
        elif kind == 7:
            assert record.original_id is not None, "type 7 answers a component on a message"
            message = self._edit(record.original_id, data, files)
        elif kind == 9:
            assert data.get("custom_id") and data.get("title"), "a modal has a custom_id and a title"
            assert len(data["title"]) <= 45, "a modal's title is at most 45 characters"
            record.modal = data
        callback: dict[str, Any] = {
            "interaction": {
                "id": str(interaction_id),
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
                **({"response_message_id": message["id"]} if message else {}),
            }
        }
        if message is not None:
            callback["resource"] = {"type": kind, "message": message}
        return callback


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py decodes nothing else.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _content_type(filename: str, given: str) -> str:
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or given


def _components(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    copied: list[dict[str, Any]] = json.loads(json.dumps(rows))
    return copied


def _application() -> dict[str, Any]:
    return {
        "id": str(APP_ID),
        "name": "Redraw",
        "icon": None,
        "description": "",
        "rpc_origins": [],
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": User(900, "Owner").json(),
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "summary": "",
    }


async def _read_body(request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
    """JSON, or multipart with ``payload_json`` and ``files[n]``; a JSON list comes back as ``_list``."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        body: dict[str, Any] = {}
        files: list[Upload] = []
        for name, value in form.items():
            if name == "payload_json":
                body = json.loads(str(value))
            elif isinstance(value, web.FileField):
                files.append(Upload(value.filename, value.file.read(), value.content_type))
        return body, files
    raw = await request.read()
    if not raw:
        return {}, []
    decoded = json.loads(raw)
    return (decoded if isinstance(decoded, dict) else {"_list": decoded}), []
