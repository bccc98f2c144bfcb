"""The versions of a picture drawn as one picture: a contact sheet of its lineage.

Tiles in order, oldest first, three to a row (it reads on a phone): each a thumbnail,
its step number, and the start of its prompt. A step with other children than the
one shown next (branches off this line) is marked ``⑂ 2`` with how many. When the
line is longer than :data:`MAX_TILES`, the first step stays, a ``… +N`` tile stands
for the elided older ones, and the newest follow. The marks are symbols and numbers,
so the picture needs no translating; prompts are drawn in whatever script they are
written in, with the system's fonts (:mod:`bot.fonts`).

Synchronous and CPU-bound: run :func:`contact_sheet` with :func:`bot.offload.run_cpu`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bot import fonts, imaging
from bot.offload import weighed

COLUMNS = 3
TILE = 320  # the thumbnail's box
CAPTION_LINES = 2
FONT_SIZE = 22
PAD = 12
MAX_TILES = 12
# A prompt longer than this is cut before it is measured: the caption shows two lines.
PROMPT_CHARS = 120
SHEET_QUALITY = 85
BACKGROUND = (24, 24, 28)
CARD = (40, 40, 46)
TEXT = (236, 236, 240)
DIM = (160, 160, 170)
ACCENT = (255, 170, 60)
BRANCH_MARKS = ("⑂", "⎇", "+")


@dataclass(frozen=True, repr=False)
class SheetEntry:
    """One version on the sheet. ``thumbnail`` is any picture (its output image is fine:
    it is scaled down); ``other_children`` counts its children off the shown line."""

    turn_id: int
    parent_id: int | None
    step: int
    prompt: str
    thumbnail: bytes
    other_children: int = 0

    def __repr__(self) -> str:
        return f"SheetEntry(#{self.step}, turn {self.turn_id}, {len(self.thumbnail)} bytes)"


@dataclass(frozen=True)
class _Elided:
    count: int


def _tiles(entries: Sequence[SheetEntry], limit: int) -> list[SheetEntry | _Elided]:
    if len(entries) <= limit:
        return list(entries)
    newest = entries[len(entries) - (limit - 2) :]
    return [entries[0], _Elided(len(entries) - 1 - len(newest)), *newest]


def _sheet_pixels(entries: Sequence[SheetEntry], max_tiles: int = MAX_TILES) -> int:
    # Thumbnails are decoded one at a time: the largest, plus the sheet itself.
    largest = max((imaging.header_pixels(entry.thumbnail) for entry in entries), default=0)
    rows = -(-min(len(entries), max_tiles) // COLUMNS)
    return largest + COLUMNS * (TILE + 2 * PAD) * rows * (TILE + 4 * PAD + 3 * FONT_SIZE)


@weighed(_sheet_pixels)
def contact_sheet(entries: Sequence[SheetEntry], max_tiles: int = MAX_TILES) -> bytes:
    """A JPEG of the lineage ``entries`` (oldest first), at most ``max_tiles`` tiles
    (at least 3), at most 1032 pixels wide and ``max_tiles / 3`` rows of 418 high.
    A thumbnail that can't be read is drawn as an empty frame."""
    if not entries:
        raise ValueError("a contact sheet needs at least one version")
    if max_tiles < 3:
        raise ValueError("a contact sheet shows at least 3 tiles")
    tiles = _tiles(entries, max_tiles)
    caption_h = (CAPTION_LINES + 1) * (FONT_SIZE + 4)
    # A card is the thumbnail's box and the caption, PAD / 2 inside it; PAD between cards.
    tile_w, tile_h = TILE + 2 * PAD, TILE + PAD + caption_h + 2 * PAD
    columns = min(COLUMNS, len(tiles))
    rows = -(-len(tiles) // COLUMNS)
    sheet = Image.new("RGB", (columns * tile_w + PAD, rows * tile_h + PAD), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for position, tile in enumerate(tiles):
        row, column = divmod(position, COLUMNS)
        left, top = PAD + column * tile_w, PAD + row * tile_h
        draw.rounded_rectangle((left, top, left + tile_w - PAD, top + tile_h - PAD), radius=PAD, fill=CARD)
        if isinstance(tile, _Elided):
            _centred(draw, (left, top, left + tile_w - PAD, top + tile_h - PAD), f"… +{tile.count}", DIM)
            continue
        _thumbnail(sheet, tile.thumbnail, (left + PAD // 2, top + PAD // 2))
        _caption(draw, tile, left + PAD // 2, top + PAD + TILE)
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=SHEET_QUALITY, optimize=True)
    return buffer.getvalue()


def _thumbnail(sheet: Image.Image, data: bytes, at: tuple[int, int]) -> None:
    box = TILE
    try:
        if imaging.header_pixels(data) > imaging.MAX_INPUT_PIXELS:
            raise ValueError("too many pixels")
        with imaging.open_image(data) as image:
            image.draft("RGB", (box, box))  # JPEG: decode at a fraction of the size
            image.thumbnail((box, box), Image.Resampling.LANCZOS, reducing_gap=2.0)
            rgba = image.convert("RGBA")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        ImageDraw.Draw(sheet).rectangle((at[0], at[1], at[0] + box, at[1] + box), outline=DIM, width=2)
        return
    x = at[0] + (box - rgba.width) // 2
    y = at[1] + (box - rgba.height) // 2
    sheet.paste(rgba, (x, y), rgba.getchannel("A"))


def _caption(draw: ImageDraw.ImageDraw, entry: SheetEntry, left: int, top: int) -> None:
    width = TILE
    head = f"#{entry.step}"
    head_font = fonts.font_for(head, FONT_SIZE)
    draw.text((left, top), head, font=head_font, fill=ACCENT)
    if entry.other_children > 0:
        mark = fonts.first_drawable(BRANCH_MARKS, FONT_SIZE)
        branches = f"{mark} {entry.other_children}"
        font = fonts.font_for(branches, FONT_SIZE)
        shown = fonts.printable(branches, font)
        draw.text((left + width - draw.textlength(shown, font=font), top), shown, font=font, fill=ACCENT)
    prompt = " ".join(entry.prompt.split())[:PROMPT_CHARS]
    font = fonts.font_for(prompt, FONT_SIZE)
    for number, line in enumerate(_wrap(draw, fonts.printable(prompt, font), font, width)):
        draw.text((left, top + (number + 1) * (FONT_SIZE + 4)), line, font=font, fill=TEXT)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: fonts.Font, width: int) -> list[str]:
    """At most :data:`CAPTION_LINES` lines of ``text`` within ``width``, the last one cut
    with "…" if there is more. Breaks between words, or anywhere in scripts without spaces."""
    lines: list[str] = []
    rest = text
    while rest and len(lines) < CAPTION_LINES:
        last = len(lines) == CAPTION_LINES - 1
        cut = _fitting(draw, rest, font, width)
        if cut < len(rest) and not last:
            space = rest.rfind(" ", 0, cut + 1)
            cut = space if space > 0 else cut
        line, rest = rest[:cut], rest[cut:].lstrip()
        if last and rest:
            line = line[: _fitting(draw, line + "…", font, width) - 1].rstrip() + "…"
        lines.append(line)
    return lines


def _fitting(draw: ImageDraw.ImageDraw, text: str, font: fonts.Font, width: int) -> int:
    """How many leading characters of ``text`` fit in ``width`` (at least one)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if draw.textlength(text[:middle], font=font) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def _centred(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], text: str, fill: tuple[int, ...]
) -> None:
    font = fonts.font_for(text, FONT_SIZE * 2)
    shown = fonts.printable(text, font)
    left, top, right, bottom = draw.textbbox((0, 0), shown, font=font)
    x = (box[0] + box[2] - (right - left)) // 2
    y = (box[1] + box[3] - (bottom - top)) // 2
    draw.text((x, y), shown, font=font, fill=fill)
