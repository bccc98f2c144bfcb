"""Region edits: the grid a user picks cells from, the few bytes a button carries,
and the mask a choice (or a painter's drawing) becomes.

The grid is 4 columns (A–D, left to right) by 4 rows (1–4, top to bottom): 16 cells,
big enough to hit with a thumb on a phone, labelled like a chessboard (``A1`` top left,
``D4`` bottom right). A set of cells is a 16-bit mask, bit ``row * 4 + column``,
written as 4 lowercase hex digits: ``0000`` is none, ``ffff`` all of them.

Buttons are stateless: every cell button carries the set *after* pressing it, so the
bot keeps nothing between presses and a keyboard keeps working after a restart, on
any instance. :func:`encode_press` writes ``g:<action>:<turn id>:<cells>``: at most
28 bytes with a 19-digit turn id, within Telegram's 64-byte callback data and
Discord's 100-character custom_id.

Masks follow the provider's convention: **fully transparent (alpha 0) = change**.
:func:`mask_from_cells` makes alpha 0 exactly on the chosen cells and feathers
*outwards*: unchosen pixels within ``feather_px`` (Chebyshev distance) of the chosen
area get an alpha between 1 and 254, rising with the distance, so the model may blend
the change into its surroundings; every other unchosen pixel is 255. An unchosen pixel
is never fully transparent, whatever the choice.

The functions that touch pixels are synchronous and CPU-bound: callers run them with
:func:`bot.offload.run_cpu` (they are :func:`~bot.offload.weighed`, so they take their
share of the decode budget), never on the event loop.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image, ImageFilter

from bot import imaging
from bot.errors import InputError
from bot.offload import weighed
from bot.types import PreparedImage

COLUMNS = 4
ROWS = 4
CELL_COUNT = COLUMNS * ROWS
COLUMN_NAMES = "ABCD"
ALL_CELLS: frozenset[int] = frozenset(range(CELL_COUNT))
NO_CELLS: frozenset[int] = frozenset()

# Below this share of fully transparent pixels a mask marks nothing (a stray dot of a
# brush); above MAX_CHANGE_FRACTION it marks everything (a plain edit would do).
MIN_CHANGE_FRACTION = 0.001
MAX_CHANGE_FRACTION = 0.999
# The feather band when none is given: 1/48 of the shorter side (21 px on 1024), at least 2.
FEATHER_FRACTION = 1 / 48
MIN_FEATHER_PX = 2

PRESS_PREFIX = "g"
# What a grid button does: "s" shows the grid with these cells chosen (a cell, all,
# none), "d" is done (the user now says what to change), "c" cancels.
PRESS_ACTIONS = ("s", "d", "c")
_CELLS_TEXT = re.compile(r"[0-9a-f]{4}")
_PRESS_TEXT = re.compile(r"g:([sdc]):([1-9][0-9]{0,18}|0):([0-9a-f]{4})")
_LABEL_TEXT = re.compile(r"([A-Da-d])([1-4])")


def cell_label(index: int) -> str:
    """``0`` → ``A1``, ``3`` → ``D1``, ``15`` → ``D4``."""
    _check_index(index)
    row, column = divmod(index, COLUMNS)
    return f"{COLUMN_NAMES[column]}{row + 1}"


def parse_cell(label: str) -> int:
    """``B3`` (or ``b3``) → its index; ValueError for anything else."""
    found = _LABEL_TEXT.fullmatch(label) if isinstance(label, str) else None
    if found is None:
        raise ValueError(f"not a grid cell: {label!r}")
    column = COLUMN_NAMES.index(found.group(1).upper())
    return (int(found.group(2)) - 1) * COLUMNS + column


def _check_index(index: int) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < CELL_COUNT:
        raise ValueError(f"not a grid cell index: {index!r}")


def cells(indices: Iterable[int]) -> frozenset[int]:
    """A checked set of cell indices."""
    chosen = frozenset(indices)
    for index in chosen:
        _check_index(index)
    return chosen


def toggled(chosen: frozenset[int], index: int) -> frozenset[int]:
    """The set after pressing cell ``index``: what that cell's button carries."""
    _check_index(index)
    return chosen - {index} if index in chosen else chosen | {index}


def encode_cells(chosen: Iterable[int]) -> str:
    """A set of cells as 4 lowercase hex digits (bit ``row * 4 + column``)."""
    bits = 0
    for index in cells(chosen):
        bits |= 1 << index
    return f"{bits:04x}"


def decode_cells(text: str) -> frozenset[int]:
    """The inverse of :func:`encode_cells`. Strict: exactly 4 lowercase ASCII hex digits,
    nothing around them; anything else (a hostile or stale button) raises ValueError."""
    if not isinstance(text, str) or _CELLS_TEXT.fullmatch(text) is None:
        raise ValueError("not an encoded set of grid cells")
    bits = int(text, 16)
    return frozenset(index for index in range(CELL_COUNT) if bits >> index & 1)


@dataclass(frozen=True)
class RegionPress:
    """A grid button: what it does, on which turn's picture, with which cells chosen."""

    action: str
    turn_id: int
    cells: frozenset[int]


def encode_press(action: str, turn_id: int, chosen: Iterable[int]) -> str:
    """``g:<action>:<turn id>:<cells>``, e.g. ``g:s:42:0013``; at most 28 characters."""
    if action not in PRESS_ACTIONS:
        raise ValueError(f"unknown grid action: {action!r}")
    if isinstance(turn_id, bool) or not isinstance(turn_id, int) or not 0 <= turn_id < 10**19:
        raise ValueError(f"bad turn id: {turn_id!r}")
    return f"{PRESS_PREFIX}:{action}:{turn_id}:{encode_cells(chosen)}"


def decode_press(data: str) -> RegionPress:
    """The inverse of :func:`encode_press`; ValueError for anything it did not write
    (other prefixes, signs, spaces, non-ASCII digits, leading zeros, extra parts)."""
    found = _PRESS_TEXT.fullmatch(data) if isinstance(data, str) else None
    if found is None:
        raise ValueError("not a grid button")
    action, turn, chosen = found.groups()
    return RegionPress(action, int(turn), decode_cells(chosen))


def cell_box(index: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The pixels of cell ``index`` on a ``width`` x ``height`` picture, as
    (left, top, right, bottom), right and bottom exclusive. The cells tile the picture
    exactly: no pixel is in two cells or in none."""
    _check_index(index)
    row, column = divmod(index, COLUMNS)
    return (
        column * width // COLUMNS,
        row * height // ROWS,
        (column + 1) * width // COLUMNS,
        (row + 1) * height // ROWS,
    )


def default_feather(width: int, height: int) -> int:
    return max(MIN_FEATHER_PX, round(min(width, height) * FEATHER_FRACTION))


def check_choice(chosen: Iterable[int]) -> frozenset[int]:
    """Refuse a choice of no cell or of every cell (InputError), before any pixel work."""
    checked = cells(chosen)
    if not checked:
        raise InputError("no cell chosen", key="region_nothing_marked")
    if checked == ALL_CELLS:
        raise InputError("every cell chosen", key="region_everything_marked")
    return checked


def _mask_pixels(width: int, height: int, chosen: Iterable[int], feather_px: int | None = None) -> int:
    return width * height if 0 < width * height <= imaging.MAX_INPUT_PIXELS else 0


@weighed(_mask_pixels)
def mask_from_cells(width: int, height: int, chosen: Iterable[int], feather_px: int | None = None) -> bytes:
    """An RGBA PNG of ``width`` x ``height``: alpha 0 (change) exactly on the chosen cells,
    255 (keep) elsewhere, except a band of ``feather_px`` (default :func:`default_feather`)
    around the chosen area where the alpha rises from 1 to 254 (see the module's notes).

    Raises InputError for no cell or every cell, ValueError for a bad size or cell."""
    checked = check_choice(chosen)
    if width < 1 or height < 1 or width * height > imaging.MAX_INPUT_PIXELS:
        raise ValueError(f"bad mask size {width}x{height}")
    feather = default_feather(width, height) if feather_px is None else feather_px
    if feather < 0:
        raise ValueError("the feather band can't be negative")
    change = Image.new("L", (width, height), 0)
    for index in checked:
        change.paste(255, cell_box(index, width, height))
    if feather:
        # A box blur of radius r spreads the chosen area exactly r pixels out. Near a
        # straight edge it is ~half there, falling linearly to 1/(2r+1) at r: doubled
        # and turned around, the keep-alpha rises from ~0 to ~255 across the band.
        spread = change.filter(ImageFilter.BoxBlur(feather))
        alpha = spread.point([max(1, 255 - 2 * value) for value in range(256)])
    else:
        alpha = Image.new("L", (width, height), 255)
    alpha.paste(0, mask=change)
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.putalpha(alpha)
    buffer = io.BytesIO()
    mask.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


@dataclass(frozen=True)
class Coverage:
    """How much of a mask is marked to change (fully transparent)."""

    changed: int
    total: int

    @property
    def fraction(self) -> float:
        return self.changed / self.total if self.total else 0.0


def _coverage_pixels(mask: bytes) -> int:
    return imaging.header_pixels(mask) if len(mask) <= imaging.MAX_MASK_BYTES else 0


@weighed(_coverage_pixels)
def check_mask_coverage(mask: bytes) -> Coverage:
    """Refuse a mask (a grid's or a painter's PNG) that marks nothing or everything:
    fewer than :data:`MIN_CHANGE_FRACTION` of its pixels fully transparent, or more than
    :data:`MAX_CHANGE_FRACTION`. InputError with ``region_nothing_marked`` or
    ``region_everything_marked``; other faults (not a PNG, no alpha, too big) are left
    to :func:`bot.imaging.prepare_mask`, which runs first."""
    if len(mask) > imaging.MAX_MASK_BYTES:
        raise InputError(
            "mask too big",
            key="mask_too_big",
            size_mb=round(len(mask) / 2**20, 1),
            limit_mb=imaging.MAX_MASK_BYTES // 2**20,
        )
    try:
        with Image.open(io.BytesIO(mask), formats=("PNG",)) as image:
            alpha = image.convert("RGBA").getchannel("A")
    except Image.DecompressionBombError:
        raise InputError(
            "mask too large",
            key="image_too_many_pixels",
            index="mask",
            megapixels="?",
            limit=imaging.MAX_INPUT_PIXELS // 1_000_000,
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"unreadable mask: {exc}", key="image_unreadable", index="mask") from None
    coverage = Coverage(alpha.histogram()[0], alpha.width * alpha.height)
    if coverage.fraction < MIN_CHANGE_FRACTION:
        raise InputError("mask marks nothing", key="region_nothing_marked")
    if coverage.fraction > MAX_CHANGE_FRACTION:
        raise InputError("mask marks everything", key="region_everything_marked")
    return coverage


def _region_mask_pixels(mask: bytes, base: PreparedImage) -> int:
    # Checked against the base's size before it is decoded; decoded twice, one at a time.
    return base.width * base.height if len(mask) <= imaging.MAX_MASK_BYTES else 0


@weighed(_region_mask_pixels)
def prepare_region_mask(mask: bytes, base: PreparedImage) -> PreparedImage:
    """A region edit's mask, checked before anything is spent: a PNG with alpha,
    ``base``'s size, under 4 MB (:func:`bot.imaging.prepare_mask`), and marking neither
    nothing nor everything (:func:`check_mask_coverage`). Raises InputError."""
    try:
        prepared = imaging.prepare_mask(mask, base)
    except InputError as error:
        if error.message_key == "mask_no_transparent_area":
            raise InputError("mask marks nothing", key="region_nothing_marked") from None
        raise
    check_mask_coverage(mask)
    return prepared
