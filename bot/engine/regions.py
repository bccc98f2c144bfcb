"""Region edits in the chat: the grid a user picks cells on, and the mask a region edit
carries (from those cells, or from a painter page).

The grid is a message of the turn (kind ``grid``): the picture overlaid by the labelled
grid, with a button per cell, all, none, done and cancel. Buttons carry the turn, which
of its pictures and the cells chosen after the press, so toggling keeps nothing
anywhere. The message is stored with who opened it (only they may press its buttons)
and, once they press Done, the chosen cells. A reply to it (Telegram), or the form Done
opens (Discord), is then a turn like a reply to the picture, with a mask: the chosen
cells (:func:`bot.images.regions.mask_from_cells`) at the picture's size, made on the image pool.

The mask is stored with the turn (a blob), so Retry and Regenerate keep it; the pipeline
checks it against the parent's picture before any upstream call
(:func:`bot.images.validation.prepare_region_request`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.blobs import BlobNotFound, BlobStore
from bot.engine.records import SentMessage, TurnRecord
from bot.engine.seams import (
    ActionPress,
    GridLabels,
    GridOutcome,
    GridPress,
    GridStep,
    GridView,
    Inbound,
)
from bot.engine.store import Store
from bot.errors import InputError
from bot.images import imaging, regions
from bot.images.offload import run_cpu
from bot.images.types import ImageParams, ImageRequest
from bot.images.validation import prepare_region_request
from bot.messages import render, render_error

GRID = "grid"


@dataclass(frozen=True, repr=False)
class Region:
    """What a region edit changes: ``mask`` (transparent where to change) on ``base``, the
    parent's picture it was chosen on."""

    mask: bytes
    base: bytes


def labels(locale: str | None) -> GridLabels:
    return GridLabels(
        all=render("grid_all", locale),
        none=render("grid_none", locale),
        done=render("grid_done", locale),
        cancel=render("grid_cancel", locale),
    )


def cell_names(cells: frozenset[int]) -> str:
    return ", ".join(regions.cell_label(index) for index in sorted(cells))


async def picture_of(blobs: BlobStore, turn: TurnRecord, index: int) -> bytes:
    """The turn's output picture ``index``; InputError when it is gone."""
    if not 0 <= index < len(turn.output_blobs):
        raise InputError("no such picture", key="turn_missing")
    try:
        return await blobs.get(turn.output_blobs[index])
    except BlobNotFound:
        raise InputError("picture gone", key="parent_image_missing") from None


class RegionGrids:
    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    # --- the grid -------------------------------------------------------------------

    async def open(self, turn: TurnRecord, press: ActionPress, locale: str | None) -> GridOutcome:
        """✏️ on a picture: the grid over it, nothing chosen yet."""
        sent = await self.store.sent_message(press.message)
        index = sent.image_index or 0 if sent is not None and sent.kind == "image" else 0
        return await self._view(turn, index, regions.NO_CELLS, locale)

    async def shown(self, view: GridView, message: SentMessage) -> None:
        """The adapter showed ``view`` as ``message`` (its key, and who opened it)."""
        await self.store.record_messages(
            [SentMessage(message.key, view.turn_id, GRID, view.image_index, message.user_id)]
        )

    async def press(self, press: GridPress) -> GridOutcome:
        """A grid button: only the one who opened the grid may press it."""
        sent = await self.store.sent_message(press.message)
        turn = await self.store.get_turn(press.turn_id)
        locale = press.locale or (turn.locale if turn else None)
        if sent is None or sent.kind != GRID or sent.turn_id != press.turn_id or turn is None:
            return GridOutcome(notice=render("grid_gone", locale), refused=True)
        if sent.user_id != press.user_id:
            return GridOutcome(notice=render("grid_not_yours", locale), refused=True)
        index = sent.image_index or 0
        if press.step is GridStep.CANCEL:
            return GridOutcome(notice=render("grid_cancelled", locale), closed=True)
        if press.step is GridStep.DONE:
            try:
                chosen = regions.check_choice(press.cells)
            except InputError as error:
                return GridOutcome(notice=render_error(error, locale), refused=True)
            await self.store.record_messages(
                [SentMessage(press.message, turn.id, GRID, index, sent.user_id, regions.encode_cells(chosen))]
            )
            text = render("grid_reply", locale, cells=cell_names(chosen))
            return GridOutcome(view=GridView(turn.id, index, chosen, text, labels(locale), ask=True))
        return await self._view(turn, index, press.cells, locale)

    async def _view(
        self, turn: TurnRecord, index: int, cells: frozenset[int], locale: str | None
    ) -> GridOutcome:
        # Imported here: Pillow's drawing and FreeType are megabytes an idle bot never needs.
        from bot.images.region_pictures import grid_overlay  # noqa: PLC0415

        try:
            picture = await picture_of(self.blobs, turn, index)
            overlay = await run_cpu(grid_overlay, picture, cells)
        except InputError as error:
            return GridOutcome(notice=render_error(error, locale), refused=True)
        chosen = cell_names(cells) if cells else render("grid_no_cells", locale)
        text = render("grid_caption", locale, cells=chosen)
        return GridOutcome(view=GridView(turn.id, index, cells, text, labels(locale), overlay))

    # --- the region edit ----------------------------------------------------------------

    async def region_of(
        self, inbound: Inbound, replied: SentMessage | None, parent: TurnRecord | None, index: int
    ) -> Region | None:
        """The region a message edits: its own mask (a painter's), or the cells chosen on
        the grid it replies to; None for a plain message. InputError when there is no
        picture to edit, or no cell was chosen."""
        from_grid = replied is not None and replied.kind == GRID
        if inbound.mask is None and not from_grid:
            return None
        if parent is None or not parent.output_blobs:
            raise InputError("a region needs a picture", key="region_needs_picture")
        base = await picture_of(self.blobs, parent, index)
        if inbound.mask is not None:
            return Region(inbound.mask, base)
        assert replied is not None
        if not replied.cells:
            raise InputError("no cell chosen yet", key="region_nothing_marked")
        cells = regions.decode_cells(replied.cells)
        _mime, width, height = imaging.describe(base)
        return Region(await run_cpu(regions.mask_from_cells, width, height, cells), base)

    async def stored(self, turn: TurnRecord, parent: TurnRecord | None) -> Region | None:
        """A stored region edit's region again (Retry, Regenerate); None for other turns."""
        if turn.mask_blob is None:
            return None
        if parent is None:
            raise BlobNotFound(turn.mask_blob)
        mask = await self.blobs.get(turn.mask_blob)
        try:
            base = await picture_of(self.blobs, parent, turn.parent_image)
        except InputError:
            raise BlobNotFound(turn.mask_blob) from None
        return Region(mask, base)


async def region_request(
    turn: TurnRecord,
    params: ImageParams,
    region: Region,
    uploads: Sequence[bytes],
    parent_images: int,
) -> ImageRequest:
    """A region edit's request, checked before anything is spent: the mask against the
    parent's picture (size, empty, everything), then the rest as for any request."""
    return await prepare_region_request(
        turn.prompt,
        params,
        model=turn.model,
        backend=turn.backend,
        mask=region.mask,
        mask_base=region.base,
        images=uploads,
        parent_images=max(parent_images, 1),
        user_id=f"{turn.platform}:{turn.user_id}",
    )
