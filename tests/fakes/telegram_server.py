"""A fake Telegram Bot API server on 127.0.0.1, for the real python-telegram-bot.

PTB reaches it through ``base_url``/``base_file_url``. It keeps chats and the
messages in them, hands updates out through ``getUpdates`` (long polling) or POSTs
them to a webhook, stores every uploaded file and serves it back through
``getFile``, and refuses what Telegram refuses: text over 4096 characters, a
caption over 1024, callback data over 64 bytes, a photo over 10 MB or beyond its
side limits, a document over 50 MB, a download over 20 MB, an edit that changes
nothing, a reply to a missing message. ``editMessageMedia`` turns a text message
into a photo message, as Bot API 10 allows. Inline mode and guest mode (Bot API 10.0:
``guest_message`` updates, ``answerGuestQuery`` once and in time, its answer an inline
message edited by ``inline_message_id``, which takes a file id, never an upload) too.

With ``flood`` set (:class:`FloodModel`), it enforces Telegram's flood limits as
published: about 30 messages a second overall, about 1 a second per private chat
with short bursts, 20 a minute per group. Every call that sends, edits or deletes
counts; one over a limit gets 429 with ``parameters.retry_after`` in whole seconds,
and is not carried out. Off by default.

Tests act as users (:meth:`FakeTelegram.send`, :meth:`FakeTelegram.press`) and
wait for what the bot did (:meth:`FakeTelegram.wait_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from PIL import Image

BOT_ID = 7_000_001
BOT_USERNAME = "redraw_test_bot"
TOKEN = f"{BOT_ID}:AAE-fake-telegram-token-0123456789"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000
MAX_PHOTO_RATIO = 20
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024

# Fields PTB sends JSON-encoded; everything else is a plain string (or a file part).
JSON_FIELDS = {
    "reply_markup",
    "reply_parameters",
    "media",
    "entities",
    "caption_entities",
    "commands",
    "scope",
    "allowed_updates",
    "link_preview_options",
    "results",
    "result",
}
INT_FIELDS = {
    "chat_id",
    "message_id",
    "offset",
    "limit",
    "timeout",
    "user_id",
    "max_connections",
    "cache_time",
}
# Free text, never decoded: "true" there is just a word.
TEXT_FIELDS = {
    "text",
    "caption",
    "url",
    "secret_token",
    "callback_query_id",
    "file_id",
    "inline_query_id",
    "inline_message_id",
    "guest_query_id",
}

T = TypeVar("T")


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


@dataclass(frozen=True)
class User:
    id: int
    first_name: str
    language_code: str | None = "en"
    username: str | None = None
    is_bot: bool = False

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


BOT = User(BOT_ID, "Redraw", None, BOT_USERNAME, is_bot=True)


@dataclass(frozen=True)
class Chat:
    id: int
    type: str  # "private", "group", "supergroup"
    title: str = ""

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.title or "User"
        else:
            data["title"] = self.title or "Group"
        return data


@dataclass(frozen=True, repr=False)
class Upload:
    data: bytes
    filename: str
    content_type: str

    def __repr__(self) -> str:
        return f"Upload({self.filename}, {len(self.data):,} bytes)"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class StoredFile:
    file_id: str
    unique_id: str
    data: bytes
    path: str


@dataclass(eq=False)
class Hold:
    """The next call of ``method`` ("download" for a file download) waits until released:
    a test kills the bot at that very point. ``after``: the work is done first (the message
    exists at Telegram) and only the answer waits."""

    method: str
    after: bool = False
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_reached(self, within: float = 15.0) -> None:
        await asyncio.wait_for(self.reached.wait(), within)


# The methods Telegram counts against its flood limits.
COUNTED = ("send", "edit", "delete", "copy", "forward")


@dataclass(frozen=True)
class FloodModel:
    overall_per_s: float = 30.0
    chat_per_s: float = 1.0
    chat_burst: int = 3
    group_per_minute: float = 20.0


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: now)."""
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Fault:
    method: str
    code: int
    description: str
    retry_after: int | None = None


def utf16_len(text: str) -> int:
    """Telegram counts entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def find_entities(text: str) -> list[dict[str, Any]]:
    """What Telegram's clients mark up: a leading /command and @mentions."""
    entities: list[dict[str, Any]] = []
    command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
    for mention in re.finditer(r"(?<![\w/])@[A-Za-z0-9_]{3,}", text):
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: mention.start()]),
                "length": utf16_len(mention.group()),
            }
        )
    return entities


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


class FakeTelegram:
    def __init__(self, token: str = TOKEN, flood: FloodModel | None = None) -> None:
        self.token = token
        self.flood = flood
        self._buckets: dict[object, _Bucket] = {}
        # The calls answered 429 by the flood limits.
        self.flooded: list[Call] = []
        # When each user message was handed to the bot (delivered), by (chat id, message id).
        self.sent_at: dict[tuple[int, int], float] = {}
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.deleted: list[dict[str, Any]] = []
        self.files: dict[str, StoredFile] = {}
        # The file paths the bot downloaded, in order.
        self.downloads: list[str] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.admins: dict[int, set[int]] = {}
        # Who left each chat (getChatMember says ``left``), and who was banned (``kicked``).
        self.left: dict[int, set[int]] = {}
        self.kicked: dict[int, set[int]] = {}
        self.chats: dict[int, Chat] = {}
        self.webhook: dict[str, Any] | None = None
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        self.answered: dict[str, dict[str, Any]] = {}
        # Inline mode: the answers to inline queries by query id, and the inline messages
        # (posted via the bot in chats it may not be in) by inline_message_id.
        self.inline_answers: dict[str, dict[str, Any]] = {}
        self.inline_messages: dict[str, dict[str, Any]] = {}
        self._inline_queries: dict[str, dict[str, Any]] = {}
        self._inline_ids = itertools.count(1)
        # Guest mode: the guest messages by query id (and when they came), the inline message
        # each answer became; a query unanswered after ``guest_query_ttl`` seconds is expired.
        self.guest_queries: dict[str, dict[str, Any]] = {}
        self.guest_answers: dict[str, str] = {}
        self._guest_asked_at: dict[str, float] = {}
        self.guest_query_ttl = 60.0
        self._updates: list[dict[str, Any]] = []
        self.last_update_id = 0
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # --- what users do ---------------------------------------------------------------

    def send(
        self,
        chat: Chat,
        user: User,
        text: str | None = None,
        *,
        photo: bytes | None = None,
        document: tuple[bytes, str, str] | None = None,
        sticker: bool = False,
        voice: bool = False,
        reply_to: dict[str, Any] | None = None,
        media_group_id: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        deliver: bool = True,
    ) -> dict[str, Any]:
        """A user posts a message (text, or a photo/document/sticker/voice with ``text`` as caption)."""
        self.chats[chat.id] = chat
        message = self._new_message(chat, user)
        has_media = photo is not None or document is not None or sticker or voice
        if text is not None:
            found = find_entities(text) if entities is None else entities
            message["caption" if has_media else "text"] = text
            if found:
                message["caption_entities" if has_media else "entities"] = found
        if photo is not None:
            message["photo"] = self._photo_sizes(self._store(photo, "photos", "jpg"), photo)
        if document is not None:
            data, name, mime = document
            stored = self._store(data, "documents", name.rsplit(".", 1)[-1])
            message["document"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.unique_id,
                "file_name": name,
                "mime_type": mime,
                "file_size": len(data),
            }
        if sticker:
            stored = self._store(b"RIFF....WEBP", "stickers", "webp")
            message["sticker"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        if voice:
            stored = self._store(b"OggS", "voice", "oga")
            message["voice"] = {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "duration": 2}
        if reply_to is not None:
            message["reply_to_message"] = self._without_reply(reply_to)
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        self.messages[(chat.id, message["message_id"])] = message
        if deliver:
            self.deliver({"message": message})
            self.sent_at[(chat.id, message["message_id"])] = time.monotonic()
        return message

    def send_album(
        self, chat: Chat, user: User, photos: list[bytes], caption: str, *, caption_on: int = 0
    ) -> list[dict[str, Any]]:
        group = f"album-{next(self._file_ids)}"
        return [
            self.send(chat, user, caption if index == caption_on else None, photo=data, media_group_id=group)
            for index, data in enumerate(photos)
        ]

    def edit(self, message: dict[str, Any], text: str) -> None:
        edited = {**message, "text": text, "edit_date": int(time.time())}
        self.deliver({"edited_message": edited})

    def press(self, message: dict[str, Any], label_prefix: str, user: User) -> str:
        """A user taps the button whose label starts with ``label_prefix``; returns the query id."""
        query = self.button_press(message, label_prefix, user)
        self.deliver({"callback_query": query})
        return str(query["id"])

    def button_press(self, message: dict[str, Any], label_prefix: str, user: User) -> dict[str, Any]:
        """The callback query of a tap, not delivered (for a test to post to webhooks)."""
        data = self.button_data(message, label_prefix)
        current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        return {
            "id": f"q{next(self._query_ids)}",
            "from": user.json(),
            "chat_instance": f"ci{message['chat']['id']}",
            "message": self._without_reply(current),
            "data": data,
        }

    def button_data(self, message: dict[str, Any], label_prefix: str) -> str:
        current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        for row in current.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if button["text"].startswith(label_prefix):
                    return str(button["callback_data"])
        raise AssertionError(f"no button starting with {label_prefix!r} on message {message['message_id']}")

    @staticmethod
    def buttons_of(message: dict[str, Any]) -> list[str]:
        """The button labels of ``message`` as it is (an inline message, say)."""
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return [str(button["text"]) for row in rows for button in row]

    def buttons(self, message: dict[str, Any]) -> list[str]:
        current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        rows = current.get("reply_markup", {}).get("inline_keyboard", [])
        return [str(button["text"]) for row in rows for button in row]

    # --- inline mode ------------------------------------------------------------------

    def inline_query(self, user: User, query: str) -> str:
        """A user types ``@bot query`` in some chat; returns the inline query id."""
        query_id = f"iq{next(self._query_ids)}"
        inline = {
            "id": query_id,
            "from": user.json(),
            "query": query,
            "offset": "",
            "chat_type": "supergroup",
        }
        self._inline_queries[query_id] = inline
        self.deliver({"inline_query": inline})
        return query_id

    def choose_inline(self, query_id: str, result_id: str) -> str:
        """The user picks a result the bot offered: Telegram posts its message (via the bot) and,
        with inline feedback on, tells the bot, naming the message only when it has a keyboard."""
        answer = self.inline_answers.get(query_id)
        assert answer is not None, "the bot did not answer the inline query"
        result = next((r for r in answer["results"] if r["id"] == result_id), None)
        assert result is not None, f"no result {result_id!r} among {[r['id'] for r in answer['results']]}"
        inline_message_id = f"AgAAA{next(self._inline_ids):05d}-inline"
        content = result["input_message_content"]
        message: dict[str, Any] = {"text": content["message_text"], "via_bot": BOT.json()}
        if result.get("reply_markup"):
            message["reply_markup"] = self._check_markup(result["reply_markup"])
        self.inline_messages[inline_message_id] = message
        query = self._inline_queries[query_id]
        chosen: dict[str, Any] = {"result_id": result_id, "from": query["from"], "query": query["query"]}
        if "reply_markup" in message:
            chosen["inline_message_id"] = inline_message_id
        self.deliver({"chosen_inline_result": chosen})
        return inline_message_id

    def press_inline(
        self, inline_message_id: str, label_prefix: str, user: User, data: str | None = None
    ) -> str:
        """A user taps a button of an inline message (``data``: a forged callback data instead)."""
        message = self.inline_messages[inline_message_id]
        if data is None:
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            found = [b["callback_data"] for row in rows for b in row if b["text"].startswith(label_prefix)]
            assert found, f"no button {label_prefix!r} on inline message {inline_message_id}"
            data = str(found[0])
        query = {
            "id": f"q{next(self._query_ids)}",
            "from": user.json(),
            "chat_instance": "ci-inline",
            "inline_message_id": inline_message_id,
            "data": data,
        }
        self.deliver({"callback_query": query})
        return str(query["id"])

    # --- guest mode (Bot API 10.0) ----------------------------------------------------------

    def guest_message(
        self,
        chat: Chat,
        user: User,
        text: str,
        *,
        photo: bytes | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A user mentions the bot in ``chat``, which the bot is not a member of (so it can't
        post there): Telegram sends a ``guest_message`` with a ``guest_query_id``."""
        message = self._new_message(chat, user)
        message["caption" if photo is not None else "text"] = text
        if found := find_entities(text):
            message["caption_entities" if photo is not None else "entities"] = found
        if photo is not None:
            message["photo"] = self._photo_sizes(self._store(photo, "photos", "jpg"), photo)
        if reply_to is not None:
            message["reply_to_message"] = self._without_reply(reply_to)
        query_id = f"gq{next(self._query_ids)}"
        message["guest_query_id"] = query_id
        self.guest_queries[query_id] = message
        self._guest_asked_at[query_id] = time.monotonic()
        self.deliver({"guest_message": message})
        return message

    async def _api_answerguestquery(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        """Posts the result in the guest message's chat, as a message of the bot's there, once;
        returns a SentGuestMessage naming it as an inline message."""
        query_id = str(params.get("guest_query_id"))
        asked = self._guest_asked_at.get(query_id)
        if (
            query_id not in self.guest_queries
            or query_id in self.guest_answers
            or asked is None
            or time.monotonic() - asked > self.guest_query_ttl
        ):
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        result = params.get("result")
        if not isinstance(result, dict) or not 1 <= len(str(result.get("id", "")).encode()) <= 64:
            raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
        if result.get("type") != "article" or "message_text" not in result.get("input_message_content", {}):
            raise ApiError(400, "Bad Request: only article results with a text are supported by this fake")
        text = result["input_message_content"]["message_text"]
        if not text.strip() or len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: MESSAGE_EMPTY or MESSAGE_TOO_LONG")
        asking = self.guest_queries[query_id]
        chat = self.chats.get(asking["chat"]["id"], Chat(asking["chat"]["id"], asking["chat"]["type"]))
        message = self._new_message(chat, BOT)
        message["chat"] = asking["chat"]
        message["text"] = text
        message["guest_bot_caller_user"] = asking["from"]
        message["guest_bot_caller_chat"] = asking["chat"]
        if result.get("reply_markup"):
            message["reply_markup"] = self._check_markup(result["reply_markup"])
        inline_message_id = f"AgAAA{next(self._inline_ids):05d}-guest"
        self.inline_messages[inline_message_id] = message
        self.guest_answers[query_id] = inline_message_id
        return {"inline_message_id": inline_message_id}

    async def _api_answerinlinequery(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        query_id = params["inline_query_id"]
        if query_id not in self._inline_queries or query_id in self.inline_answers:
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        results = params.get("results") or []
        if len(results) > 50 or len({r["id"] for r in results}) != len(results):
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH or RESULT_ID_DUPLICATE")
        for result in results:
            if not 1 <= len(result["id"].encode()) <= 64:
                raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
            if result.get("reply_markup"):
                self._check_markup(result["reply_markup"])
        self.inline_answers[query_id] = params
        return True

    def deliver(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **payload}
        self.last_update_id = update["update_id"]
        self._updates.append(update)
        self._arrived.set()
        return update

    async def post_to_webhook(
        self, update: dict[str, Any], secret: str | None = None, url: str | None = None
    ) -> int:
        """Telegram's side of webhook mode: POST the update, with the secret header, to the
        webhook set (or to ``url``: one instance behind a load balancer)."""
        assert self.webhook is not None, "no webhook set"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        token = self.webhook.get("secret_token") if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        async with self._session.post(url or self.webhook["url"], json=update, headers=headers) as response:
            return response.status

    def fetched(self, update_id: int) -> bool:
        """The bot polled past ``update_id``: it has that update (Telegram forgets it then)."""
        return any((call.params.get("offset") or 0) > update_id for call in self.sent("getUpdates"))

    def hold(self, method: str, *, after: bool = False) -> Hold:
        """Hold the next ``method`` call (or "download"); see :class:`Hold`."""
        hold = Hold(method, after)
        self.holds.append(hold)
        return hold

    def fail_next(self, method: str, code: int, description: str, retry_after: int | None = None) -> None:
        self.faults.append(Fault(method, code, description, retry_after))

    # --- what the bot did ----------------------------------------------------------------

    def sent(self, method: str | None = None, chat: Chat | None = None) -> list[Call]:
        return [
            call
            for call in self.calls
            if (method is None or call.method == method)
            and (chat is None or call.params.get("chat_id") in (chat.id, str(chat.id)))
        ]

    def bot_messages(self, chat: Chat) -> list[dict[str, Any]]:
        """What the bot has in the chat now (deleted messages are gone), oldest first."""
        return [
            message
            for (chat_id, _), message in sorted(self.messages.items())
            if chat_id == chat.id and message["from"]["id"] == BOT_ID
        ]

    def bot_photos(self, chat: Chat) -> list[dict[str, Any]]:
        return [message for message in self.bot_messages(chat) if "photo" in message]

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data

    def photo_bytes(self, message: dict[str, Any]) -> bytes:
        return self.file_bytes(message["photo"][-1]["file_id"])

    async def wait_for(self, probe: Callable[[], T | None], within: float = 15.0, what: str = "") -> T:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out waiting for {what or probe}")

    async def wait_message(
        self,
        chat: Chat,
        predicate: Callable[[dict[str, Any]], bool] = lambda message: True,
        *,
        after: int = 0,
        within: float = 15.0,
        what: str = "a message from the bot",
    ) -> dict[str, Any]:
        """The first live bot message in ``chat`` after message id ``after`` that matches."""

        def probe() -> dict[str, Any] | None:
            for message in self.bot_messages(chat):
                if message["message_id"] > after and predicate(message):
                    return message
            return None

        return await self.wait_for(probe, within, what)

    async def wait_photo(self, chat: Chat, after: int = 0, within: float = 15.0) -> dict[str, Any]:
        return await self.wait_message(
            chat, lambda message: "photo" in message, after=after, within=within, what="a photo"
        )

    async def wait_text(
        self, chat: Chat, contains: str, after: int = 0, within: float = 15.0
    ) -> dict[str, Any]:
        return await self.wait_message(
            chat,
            lambda message: contains in (message.get("text") or message.get("caption") or ""),
            after=after,
            within=within,
            what=f"a message containing {contains!r}",
        )

    async def settle(self, quiet: float = 0.3, within: float = 10.0) -> None:
        """Wait until the bot has made no call (other than polling) for ``quiet`` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            busy = [call for call in self.calls if call.method != "getUpdates"]
            if not busy or time.monotonic() - busy[-1].at >= quiet:
                return
            await asyncio.sleep(0.05)

    # --- the HTTP side ---------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._answer_error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        params, files = await self._read(request)
        call = Call(method, params, files)
        self.calls.append(call)
        try:
            fault = next((f for f in self.faults if f.method == method), None)
            if fault is not None:
                self.faults.remove(fault)
                raise ApiError(fault.code, fault.description, fault.retry_after)
            self._check_flood(call)
            handler = getattr(self, f"_api_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            hold = self._take_hold(method)
            if hold is not None and not hold.after:
                await self._wait(hold)
            result = await handler(params, files)
            if hold is not None and hold.after:
                await self._wait(hold)
        except ApiError as error:
            return self._answer_error(error)
        return web.json_response({"ok": True, "result": result})

    def _check_flood(self, call: Call) -> None:
        """Telegram's flood limits (when on): a token from the bot's and from the chat's bucket."""
        chat_id = call.params.get("chat_id")
        if self.flood is None or chat_id is None or not call.method.startswith(COUNTED):
            return
        flood, now, chat = self.flood, call.at, int(chat_id)
        if chat < 0:
            per_chat = self._bucket(chat, flood.group_per_minute / 60, flood.group_per_minute)
        else:
            per_chat = self._bucket(chat, flood.chat_per_s, flood.chat_burst)
        overall = self._bucket("overall", flood.overall_per_s, flood.overall_per_s)
        wait = max(overall.wait(now), per_chat.wait(now))
        if wait > 0:
            self.flooded.append(call)
            raise ApiError(429, f"Too Many Requests: retry after {math.ceil(wait)}", math.ceil(wait))
        overall.tokens -= 1
        per_chat.tokens -= 1

    def _bucket(self, key: object, rate: float, burst: float) -> _Bucket:
        if key not in self._buckets:
            self._buckets[key] = _Bucket(rate, burst)
        return self._buckets[key]

    @staticmethod
    def _answer_error(error: ApiError) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
        if error.retry_after is not None:
            body["parameters"] = {"retry_after": error.retry_after}
        return web.json_response(body, status=error.code)

    @staticmethod
    async def _read(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
        params: dict[str, Any] = {}
        files: dict[str, Upload] = {}
        if request.content_type == "application/json":
            params = await request.json() if request.can_read_body else {}
            return params, files
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files[name] = Upload(value.file.read(), value.filename, value.content_type)
            elif name in JSON_FIELDS:
                params[name] = json.loads(value)
            elif isinstance(value, (bytes, bytearray)):
                params[name] = bytes(value).decode()
            elif name in INT_FIELDS and re.fullmatch(r"-?\d+", value):
                params[name] = int(value)
            elif name not in TEXT_FIELDS and value in ("true", "false"):
                params[name] = value == "true"
            else:
                params[name] = value
        return params, files

    def _take_hold(self, method: str) -> Hold | None:
        hold = next((h for h in self.holds if h.method == method), None)
        if hold is not None:
            self.holds.remove(hold)
        return hold

    @staticmethod
    async def _wait(hold: Hold) -> None:
        hold.reached.set()
        await hold.released.wait()

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        if (hold := self._take_hold("download")) is not None:
            await self._wait(hold)
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.path == path), None)
        if stored is None:
            return web.Response(status=404)
        self.downloads.append(path)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    # --- storage helpers -------------------------------------------------------------------

    def _new_message(self, chat: Chat, sender: User) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat.json(),
            "from": sender.json(),
        }

    @staticmethod
    def _without_reply(message: dict[str, Any]) -> dict[str, Any]:
        # Telegram nests only one level of reply_to_message.
        return {key: value for key, value in message.items() if key != "reply_to_message"}

    def _store(self, data: bytes, folder: str, extension: str) -> StoredFile:
        number = next(self._file_ids)
        stored = StoredFile(f"file-{number}", f"u{number}", data, f"{folder}/file_{number}.{extension}")
        self.files[stored.file_id] = stored
        return stored

    def _photo_sizes(self, stored: StoredFile, data: bytes) -> list[dict[str, Any]]:
        width, height = image_size(data)
        # A small thumbnail first, the full picture last, as Telegram lists them.
        thumb = Image.open(io.BytesIO(data)).convert("RGB")
        thumb.thumbnail((90, 90))
        buffer = io.BytesIO()
        thumb.save(buffer, "JPEG")
        small = self._store(buffer.getvalue(), "photos", "jpg")
        return [
            {
                "file_id": small.file_id,
                "file_unique_id": small.unique_id,
                "width": thumb.width,
                "height": thumb.height,
                "file_size": len(small.data),
            },
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.unique_id,
                "width": width,
                "height": height,
                "file_size": len(data),
            },
        ]

    def _chat_of(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chats.get(int(params["chat_id"]))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat.json()

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._new_message(Chat(0, "private"), BOT)
        message["chat"] = self._chat_of(params)
        reply = params.get("reply_parameters")
        if reply:
            target = self.messages.get((message["chat"]["id"], int(reply["message_id"])))
            if target is not None:
                message["reply_to_message"] = self._without_reply(target)
            elif not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        if "reply_markup" in params:
            markup = self._check_markup(params["reply_markup"], message["chat"])
            if markup:
                message["reply_markup"] = markup
        return message

    @staticmethod
    def _check_markup(markup: dict[str, Any], chat: dict[str, Any] | None = None) -> dict[str, Any]:
        for row in markup.get("inline_keyboard", []):
            for button in row:
                # Telegram allows web_app buttons in private chats only.
                if "web_app" in button and (chat is None or chat.get("type") != "private"):
                    raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        return markup

    @staticmethod
    def _check_caption(params: dict[str, Any]) -> None:
        if len(params.get("caption") or "") > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")

    def _upload(self, value: Any, files: dict[str, Upload], name: str) -> Upload:
        """A file part, an ``attach://`` reference, or the id of a file already stored."""
        if name in files:
            return files[name]
        if isinstance(value, str) and value.startswith("attach://"):
            part = value.removeprefix("attach://")
            if part not in files:
                raise ApiError(400, f"Bad Request: file {part} not found in the request")
            return files[part]
        if isinstance(value, str) and value in self.files:
            stored = self.files[value]
            return Upload(stored.data, stored.path.rsplit("/", 1)[-1], "application/octet-stream")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _photo(self, data: bytes) -> list[dict[str, Any]]:
        if len(data) > MAX_PHOTO_BYTES:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS: photo is too big")
        try:
            width, height = image_size(data)
        except Exception:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED") from None
        if width + height > MAX_PHOTO_SIDES or max(width, height) / min(width, height) > MAX_PHOTO_RATIO:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        stored = self._store(data, "photos", "jpg")
        # The bot's photos get no thumbnail: one would cost the fake a decode of every picture
        # (which stalls its clock for the flood limits under load), and the bot reads the largest.
        size = {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "file_size": len(data)}
        return [{**size, "width": width, "height": height}]

    def _document(self, upload: Upload) -> dict[str, Any]:
        data, filename = upload.data, upload.filename
        if len(data) > MAX_DOCUMENT_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        stored = self._store(data, "documents", filename.rsplit(".", 1)[-1])
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_name": filename,
            "mime_type": upload.content_type,
            "file_size": len(data),
        }

    def _keep(self, message: dict[str, Any]) -> dict[str, Any]:
        self.messages[(message["chat"]["id"], message["message_id"])] = message
        return message

    def _existing(self, params: dict[str, Any]) -> dict[str, Any]:
        if "inline_message_id" in params:
            if "chat_id" in params or "message_id" in params:
                raise ApiError(400, "Bad Request: inline_message_id with chat_id or message_id")
            inline = self.inline_messages.get(str(params["inline_message_id"]))
            if inline is None:
                raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
            return inline
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        return self.messages[key]

    # --- the Bot API methods -------------------------------------------------------------

    async def _api_getme(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        return {
            **BOT.json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "supports_guest_queries": True,
        }

    async def _api_deletewebhook(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        self.webhook = None
        return True

    async def _api_setwebhook(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = params
        return True

    async def _api_getwebhookinfo(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        return {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    async def _api_getupdates(self, params: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        self._updates = [update for update in self._updates if update["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        if not self._updates and timeout > 0:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        limit = int(params.get("limit") or 100)
        allowed = params.get("allowed_updates") or []
        return [
            update
            for update in self._updates[:limit]
            if not allowed or any(kind in update for kind in allowed)
        ]

    async def _api_setmycommands(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        self.commands[params.get("language_code") or ""] = params["commands"]
        return True

    async def _api_sendchataction(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        self._chat_of(params)
        return True

    async def _api_getchatmember(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        admin = user_id in self.admins.get(chat_id, set())
        user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        if user_id in self.left.get(chat_id, set()):
            return {"status": "left", "user": user}
        if user_id in self.kicked.get(chat_id, set()):
            return {"status": "kicked", "user": user, "until_date": 0}
        if admin:
            return {"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": False,
                    "can_manage_chat": True, "can_delete_messages": True, "can_manage_video_chats": True,
                    "can_restrict_members": True, "can_promote_members": False, "can_change_info": True,
                    "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
                    "can_delete_stories": False}  # fmt: skip
        return {"status": "member", "user": user}

    async def _api_sendmessage(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        text = params.get("text") or ""
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        message = self._bot_message(params)
        message["text"] = text
        return self._keep(message)

    async def _api_sendphoto(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        self._check_caption(params)
        data = self._upload(params.get("photo"), files, "photo")
        message = self._bot_message(params)
        message["photo"] = self._photo(data.data)
        if params.get("caption"):
            message["caption"] = params["caption"]
        return self._keep(message)

    async def _api_senddocument(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        self._check_caption(params)
        data = self._upload(params.get("document"), files, "document")
        message = self._bot_message(params)
        message["document"] = self._document(data)
        if params.get("caption"):
            message["caption"] = params["caption"]
        return self._keep(message)

    async def _api_sendmediagroup(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> list[dict[str, Any]]:
        media = params["media"]
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: there must be 2-10 items in a media group")
        group = f"sent-album-{next(self._file_ids)}"
        sent = []
        for item in media:
            if item.get("type") != "photo":
                raise ApiError(400, "Bad Request: only photos are expected here")
            if len(item.get("caption") or "") > MAX_CAPTION:
                raise ApiError(400, "Bad Request: message caption is too long")
            message = self._bot_message({k: v for k, v in params.items() if k != "reply_markup"})
            message["photo"] = self._photo(self._upload(item.get("media"), files, "\0").data)
            message["media_group_id"] = group
            if item.get("caption"):
                message["caption"] = item["caption"]
            sent.append(self._keep(message))
        return sent

    async def _api_editmessagetext(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        message = self._existing(params)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        markup = (
            self._check_markup(params["reply_markup"], message.get("chat"))
            if "reply_markup" in params
            else None
        )
        if message["text"] == params["text"] and message.get("reply_markup") == markup:
            raise ApiError(400, "Bad Request: message is not modified")
        if len(params["text"]) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        message["text"] = params["text"]
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return True if "inline_message_id" in params else message  # type: ignore[return-value]

    async def _api_editmessagecaption(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> dict[str, Any]:
        message = self._existing(params)
        self._check_caption(params)
        markup = (
            self._check_markup(params["reply_markup"], message.get("chat"))
            if "reply_markup" in params
            else None
        )
        if message.get("caption") == params.get("caption") and message.get("reply_markup") == markup:
            raise ApiError(400, "Bad Request: message is not modified")
        message["caption"] = params.get("caption", "")
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return True if "inline_message_id" in params else message  # type: ignore[return-value]

    async def _api_editmessagemedia(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        message = self._existing(params)
        media = params["media"]
        if media.get("type") != "photo":
            raise ApiError(400, "Bad Request: only photos are expected here")
        if "inline_message_id" in params:
            # An inline message takes a file id or a URL, never a fresh upload.
            value = media.get("media")
            if (
                files
                or not isinstance(value, str)
                or value.startswith("attach://")
                or value not in self.files
            ):
                raise ApiError(
                    400, "Bad Request: can't use a file upload for an inline message; use a file_id"
                )
        if len(media.get("caption") or "") > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        message["photo"] = self._photo(self._upload(media.get("media"), files, "\0").data)
        # A text message becomes a photo message (Bot API 10): its text goes, the caption stays.
        message.pop("text", None)
        message.pop("entities", None)
        message.pop("document", None)
        message["caption"] = media.get("caption", "")
        message.pop("reply_markup", None)
        if "reply_markup" in params:
            message["reply_markup"] = self._check_markup(params["reply_markup"], message.get("chat"))
        return True if "inline_message_id" in params else message  # type: ignore[return-value]

    async def _api_editmessagereplymarkup(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> dict[str, Any]:
        message = self._existing(params)
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = self._check_markup(params["reply_markup"], message.get("chat"))
        return True if "inline_message_id" in params else message  # type: ignore[return-value]

    async def _api_deletemessage(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise ApiError(400, "Bad Request: message to delete not found")
        self.deleted.append(self.messages.pop(key))
        return True

    async def _api_answercallbackquery(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        query_id = params["callback_query_id"]
        if query_id in self.answered:
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        # Without a game, only a t.me link to the bot itself may be opened.
        url = params.get("url")
        if url is not None and not str(url).startswith(f"https://t.me/{BOT_USERNAME}?start="):
            raise ApiError(400, "Bad Request: URL_INVALID")
        self.answered[query_id] = params
        return True

    async def _api_getfile(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        stored = self.files.get(params["file_id"])
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }
