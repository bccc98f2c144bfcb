"""Showing a turn in its chat: its pictures with their buttons, a message about it, its
original files, and its stored pictures again. Every message sent is stored against the
turn, so a reply to it finds the turn."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blobs import BlobNotFound, BlobStore
from bot.engine.records import MessageKey, SentMessage, TurnRecord
from bot.engine.seams import Action, ActionKind, Channel, OutgoingImage
from bot.engine.store import Store
from bot.images import imaging
from bot.images.types import MIME_EXTENSIONS, GeneratedImage
from bot.messages import render

RESULT_ACTIONS = (
    ActionKind.REGENERATE,
    ActionKind.VARIATIONS,
    ActionKind.ORIGINAL,
    ActionKind.UNDO,
    ActionKind.REGION,
    ActionKind.VERSIONS,
)
CAPTION_PROMPT_CHARS = 200


def actions(kinds: Sequence[ActionKind], turn_id: int, locale: str | None) -> list[Action]:
    return [Action(kind, turn_id, render(f"button_{kind.value}", locale)) for kind in kinds]


def short(text: str, limit: int = CAPTION_PROMPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def caption(turn: TurnRecord) -> str:
    return f"{short(turn.revised_prompt or turn.prompt)}\n💲{turn.cost_usd:.3f}"


def reply_target(turn: TurnRecord) -> MessageKey:
    """The user's message a turn answers; without one, its chat (no reply)."""
    return turn.inbound or MessageKey(turn.platform, turn.chat_id, "")


class Pictures:
    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    async def show(
        self,
        turn: TurnRecord,
        reply_to: MessageKey,
        channel: Channel,
        images: Sequence[OutgoingImage | GeneratedImage],
        text: str,
        *,
        locale: str | None,
        replace: MessageKey | None = None,
    ) -> None:
        """Send a turn's pictures with its buttons, and store every message that shows them
        (an album's caption message too): the turn is delivered, and the chat's latest."""
        outgoing = [
            image
            if isinstance(image, OutgoingImage)
            else OutgoingImage(image.data, image.mime, image.width, image.height)
            for image in images
        ]
        keys = await channel.send_images(
            reply_to, outgoing, text, actions(RESULT_ACTIONS, turn.id, locale), replace=replace
        )
        shown = [SentMessage(key, turn.id, "image", index) for index, key in enumerate(keys[: len(outgoing)])]
        shown += [SentMessage(key, turn.id, "caption", 0) for key in keys[len(outgoing) :]]
        await self.store.delivered(shown, turn.platform, turn.chat_id, turn.id)

    async def show_stored(
        self, turn: TurnRecord, reply_to: MessageKey, channel: Channel, text: str, locale: str | None
    ) -> None:
        """Send a finished turn's stored pictures again, and make it what the chat continues from."""
        try:
            datas = [await self.blobs.get(blob) for blob in turn.output_blobs]
        except BlobNotFound:
            await channel.send_text(reply_to, render("parent_image_missing", locale))
            return
        images = [OutgoingImage(data, *imaging.describe(data)) for data in datas]
        await self.show(turn, reply_to, channel, images, text, locale=locale)

    async def tell(
        self,
        turn: TurnRecord,
        channel: Channel,
        reply_to: MessageKey,
        text: str,
        *,
        retry: bool,
        replace: MessageKey | None = None,
    ) -> None:
        """A message about ``turn`` (with Retry if asked), recorded so a reply to it finds the turn."""
        buttons = actions([ActionKind.RETRY], turn.id, turn.locale) if retry else []
        key = await channel.send_text(reply_to, text, buttons, replace=replace)
        await self.store.record_messages([SentMessage(key, turn.id, "text")])

    async def send_originals(self, turn: TurnRecord, reply_to: MessageKey, channel: Channel) -> None:
        for index, blob in enumerate(turn.output_blobs):
            try:
                data = await self.blobs.get(blob)
            except BlobNotFound:
                await channel.send_text(reply_to, render("parent_image_missing", turn.locale))
                return
            # From the bytes: a proxy's result need not be the format that was asked for.
            mime = imaging.sniff_mime(data) or "image/png"
            filename = f"redraw-{turn.id}-{index + 1}.{MIME_EXTENSIONS.get(mime, 'png')}"
            key = await channel.send_file(reply_to, data, filename, mime, locale=turn.locale)
            await self.store.record_messages([SentMessage(key, turn.id, "file", index)])

    async def undo(
        self, turn: TurnRecord, reply_to: MessageKey, channel: Channel, locale: str | None
    ) -> None:
        """Show the parent again and make it what the chat continues from."""
        parent = await self.store.get_turn(turn.parent_id) if turn.parent_id else None
        if parent is None or not parent.output_blobs:
            await channel.send_text(reply_to, render("undo_nothing", locale))
            return
        text = f"{render('undo_done', locale)}\n{short(parent.prompt)}"
        await self.show_stored(parent, reply_to, channel, text, locale)
