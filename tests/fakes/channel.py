"""A Channel that records everything the engine says, for engine tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.engine.records import MessageKey
from bot.engine.seams import Action, ActionKind, OutgoingImage, SettingsView


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
    # The status message this answer took the place of.
    replaced: MessageKey | None = None


class RecordedProgress:
    """A status message as the engine drives it: the first show sends it, later ones edit it."""

    def __init__(self, channel: CollectingChannel, reply_to: MessageKey, actions: Sequence[Action]) -> None:
        self.channel = channel
        self.reply_to = reply_to
        self.actions = list(actions)
        self.key: MessageKey | None = None
        self.closed = False

    def show(self, text: str, preview: bytes | None = None) -> None:
        assert not self.closed, "shown after close"
        if self.key is None:
            self.key = self.channel._key(self.reply_to.chat_id)
            said = Said("progress", self.reply_to, self.key, text, actions=self.actions, preview=preview)
        else:
            said = Said("update", None, self.key, text, preview=preview)
        self.channel.said.append(said)

    async def close(self, *, keep: bool) -> MessageKey | None:
        self.closed = True
        if self.key is None or keep:
            return self.key
        self.channel.said.append(Said("clear", None, self.key))
        return None


class CollectingChannel:
    def __init__(self, platform: str = "test") -> None:
        self.platform = platform
        self.said: list[Said] = []
        self._ids = itertools.count(1)

    def _key(self, chat_id: str) -> MessageKey:
        return MessageKey(self.platform, chat_id, f"bot-{next(self._ids)}")

    def progress(self, reply_to: MessageKey, actions: Sequence[Action], label: str = "") -> RecordedProgress:
        return RecordedProgress(self, reply_to, actions)

    async def send_images(
        self,
        reply_to: MessageKey,
        images: Sequence[OutgoingImage],
        caption: str,
        actions: Sequence[Action],
        *,
        replace: MessageKey | None = None,
    ) -> list[MessageKey]:
        keys = [self._key(reply_to.chat_id) for _ in images]
        if replace is not None and len(images) == 1:
            keys = [replace]
        said = Said("images", reply_to, None, caption, list(images), keys, list(actions), replaced=replace)
        self.said.append(said)
        return keys

    async def send_text(
        self,
        reply_to: MessageKey,
        text: str,
        actions: Sequence[Action] = (),
        *,
        replace: MessageKey | None = None,
    ) -> MessageKey:
        key = replace or self._key(reply_to.chat_id)
        self.said.append(Said("text", reply_to, key, text, actions=list(actions), replaced=replace))
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
