"""A Channel that records everything the engine says, for engine tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.engine.inbound import Action, ActionKind, OutgoingImage, SettingsView
from bot.engine.records import MessageKey


@dataclass
class Said:
    kind: str  # "progress", "update", "clear", "images", "text", "file", "settings"
    reply_to: MessageKey | None
    key: MessageKey | None = None
    text: str = ""
    images: list[OutgoingImage] = field(default_factory=list)
    keys: list[MessageKey] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    preview: bytes | None = None
    data: bytes = b""
    view: SettingsView | None = None


class CollectingChannel:
    def __init__(self, platform: str = "test") -> None:
        self.platform = platform
        self.said: list[Said] = []
        self._ids = itertools.count(1)

    def _key(self, chat_id: str) -> MessageKey:
        return MessageKey(self.platform, chat_id, f"bot-{next(self._ids)}")

    async def show_progress(self, reply_to: MessageKey, text: str, actions: Sequence[Action]) -> MessageKey:
        key = self._key(reply_to.chat_id)
        self.said.append(Said("progress", reply_to, key, text, actions=list(actions)))
        return key

    async def update_progress(self, progress: MessageKey, text: str, preview: bytes | None = None) -> None:
        self.said.append(Said("update", None, progress, text, preview=preview))

    async def clear_progress(self, progress: MessageKey) -> None:
        self.said.append(Said("clear", None, progress))

    async def send_images(
        self, reply_to: MessageKey, images: Sequence[OutgoingImage], caption: str, actions: Sequence[Action]
    ) -> list[MessageKey]:
        keys = [self._key(reply_to.chat_id) for _ in images]
        self.said.append(Said("images", reply_to, None, caption, list(images), keys, list(actions)))
        return keys

    async def send_text(self, reply_to: MessageKey, text: str, actions: Sequence[Action] = ()) -> MessageKey:
        key = self._key(reply_to.chat_id)
        self.said.append(Said("text", reply_to, key, text, actions=list(actions)))
        return key

    async def send_file(
        self, reply_to: MessageKey, data: bytes, filename: str, mime: str, locale: str | None = None
    ) -> MessageKey:
        key = self._key(reply_to.chat_id)
        self.said.append(Said("file", reply_to, key, filename, data=data))
        return key

    async def send_settings(self, reply_to: MessageKey, view: SettingsView) -> MessageKey:
        key = self._key(reply_to.chat_id)
        self.said.append(Said("settings", reply_to, key, view.text, view=view))
        return key

    # --- reading what was said ---------------------------------------------------

    def of(self, kind: str) -> list[Said]:
        return [said for said in self.said if said.kind == kind]

    @property
    def results(self) -> list[Said]:
        return self.of("images")

    @property
    def texts(self) -> list[str]:
        return [said.text for said in self.of("text")]

    def last_image_key(self, index: int = 0) -> MessageKey:
        return self.results[-1].keys[index]

    def action(self, kind: ActionKind) -> Action:
        return next(a for said in reversed(self.said) for a in said.actions if a.kind is kind)
