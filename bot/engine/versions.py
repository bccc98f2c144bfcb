"""A picture's versions: its lineage as text (``/history``) and drawn as a contact sheet
(:func:`bot.images.contact_sheet.contact_sheet`, made on the image pool), sent together."""

from __future__ import annotations

import logging

from bot.blobs import BlobNotFound, BlobStore
from bot.engine.pictures import short
from bot.engine.records import MessageKey, TurnRecord
from bot.engine.seams import Action, ActionKind, Channel, OutgoingImage
from bot.engine.store import Store
from bot.images import imaging
from bot.images.offload import run_cpu
from bot.messages import render

log = logging.getLogger(__name__)

# Longer histories go as the sheet, then the text in a message of its own.
MAX_CAPTION = 900


class Versions:
    def __init__(self, store: Store, blobs: BlobStore, *, pages: bool = False) -> None:
        self.store = store
        self.blobs = blobs
        # The web pages are served: the sheet carries 🌳 All versions (no message of its own).
        self.pages = pages

    async def show(
        self, turn_id: int, image_index: int, reply_to: MessageKey, channel: Channel, locale: str | None
    ) -> None:
        """How picture ``image_index`` of ``turn_id`` was made: the sheet, captioned with the steps."""
        chain = await self.store.lineage(turn_id)
        lines = [f"{step}. {short(turn.prompt, 120)}" for step, turn in enumerate(chain, start=1)]
        text = render("history", locale, count=len(chain), lines="\n".join(lines))
        label = render("web_versions_button", locale)
        actions = [Action(ActionKind.ALL_VERSIONS, turn_id, label)] if self.pages and chain else []
        try:
            sheet = await self._sheet(chain, image_index)
        except Exception:
            # The text is what /history always gave: it still goes.
            log.exception("could not draw the versions of turn %s", turn_id)
            sheet = None
        if sheet is None:
            await channel.send_text(reply_to, text, actions)
            return
        mime, width, height = imaging.describe(sheet)
        fits = len(text) <= MAX_CAPTION
        picture = OutgoingImage(sheet, mime, width, height)
        await channel.send_images(reply_to, [picture], text if fits else "", actions if fits else [])
        if not fits:
            await channel.send_text(reply_to, text, actions)

    async def _sheet(self, chain: list[TurnRecord], image_index: int) -> bytes | None:
        if not chain:
            return None
        # Imported here: Pillow's drawing and FreeType are megabytes an idle bot never needs.
        from bot.images.contact_sheet import MAX_TILES, SheetEntry, contact_sheet  # noqa: PLC0415

        children = await self.store.children_counts([turn.id for turn in chain])
        # The sheet shows the first step and the newest ones: only their pictures are read.
        newest = range(max(0, len(chain) - MAX_TILES + 2), len(chain))
        shown = set(range(len(chain))) if len(chain) <= MAX_TILES else {0, *newest}
        entries = []
        for position, turn in enumerate(chain):
            following = chain[position + 1] if position + 1 < len(chain) else None
            index = following.parent_image if following is not None else image_index
            on_line = 1 if following is not None else 0
            entries.append(
                SheetEntry(
                    turn_id=turn.id,
                    parent_id=turn.parent_id,
                    step=position + 1,
                    prompt=turn.prompt,
                    thumbnail=await self._thumbnail(turn, index) if position in shown else b"",
                    other_children=max(0, children.get(turn.id, 0) - on_line),
                )
            )
        return await run_cpu(contact_sheet, entries)

    async def _thumbnail(self, turn: TurnRecord, index: int) -> bytes:
        if not turn.output_blobs:
            return b""
        index = index if 0 <= index < len(turn.output_blobs) else 0
        try:
            return await self.blobs.get(turn.output_blobs[index])
        except BlobNotFound:
            return b""  # drawn as an empty frame
