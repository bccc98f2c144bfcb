"""Region edits' pure pieces: the grid's button data, masks from cells, the coverage
checks, the grid and highlight pictures, and the versions contact sheet."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image, ImageChops

from bot import regions
from bot.contact_sheet import MAX_TILES, SheetEntry, contact_sheet
from bot.errors import InputError
from bot.offload import run_cpu
from bot.region_pictures import OVERLAY_MIN_SIDE, OVERLAY_SIDE, grid_overlay, highlight_region
from tests.fakes.openai_server import bomb_png
from tests.helpers import encoded, png

TELEGRAM_CALLBACK_BYTES = 64
DISCORD_CUSTOM_ID_CHARS = 100


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def alpha_of(mask: bytes) -> Image.Image:
    image = opened(mask)
    assert image.format == "PNG" and image.mode == "RGBA"
    return image.getchannel("A")


def cells_area(width: int, height: int, chosen: set[int], grow: int = 0) -> Image.Image:
    """255 on the chosen cells' pixels (and those within ``grow`` of them), 0 elsewhere,
    built independently of the code under test."""
    area = Image.new("L", (width, height), 0)
    for index in chosen:
        row, column = divmod(index, 4)
        left, right = column * width // 4, (column + 1) * width // 4
        top, bottom = row * height // 4, (row + 1) * height // 4
        area.paste(255, (max(0, left - grow), max(0, top - grow), right + grow, bottom + grow))
    return area


# --- the grid and its button data ------------------------------------------------


def test_cells_are_labelled_like_a_chessboard() -> None:
    assert [regions.cell_label(i) for i in (0, 3, 4, 15)] == ["A1", "D1", "A2", "D4"]
    assert all(regions.parse_cell(regions.cell_label(i)) == i for i in range(16))
    assert regions.parse_cell("b3") == regions.parse_cell("B3") == 9
    for bad in ("E1", "A5", "A0", "AA", "A 1", " A1", "A1\n", "Ａ1", "A١", "", "A10"):
        with pytest.raises(ValueError):
            regions.parse_cell(bad)


def test_every_set_of_cells_round_trips() -> None:
    for bits in range(1 << 16):
        chosen = frozenset(i for i in range(16) if bits >> i & 1)
        text = regions.encode_cells(chosen)
        assert len(text) == 4 and regions.decode_cells(text) == chosen
    assert regions.encode_cells([]) == "0000" and regions.encode_cells(range(16)) == "ffff"
    assert regions.encode_cells([0, 1, 15]) == "8003"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "000",
        "00000",
        "FFFF",
        "0x12",
        " 123",
        "123 ",
        "12_3",
        "-001",
        "+001",
        "١٢٣٤",
        "ｆｆｆｆ",
        "00g0",
        "12\n",
    ],
)
def test_hostile_cells_are_refused(garbage: str) -> None:
    with pytest.raises(ValueError):
        regions.decode_cells(garbage)


def test_bad_cells_are_refused_when_encoding() -> None:
    for bad in ([16], [-1], [True], ["3"]):
        with pytest.raises(ValueError):
            regions.encode_cells(bad)  # type: ignore[arg-type]


def test_a_press_round_trips_and_fits_both_platforms() -> None:
    biggest = 10**19 - 1
    for action, turn, chosen in itertools.product(
        regions.PRESS_ACTIONS, (0, 7, biggest), ({0}, set(range(16)))
    ):
        data = regions.encode_press(action, turn, chosen)
        assert len(data.encode()) <= TELEGRAM_CALLBACK_BYTES - 36 and len(data) <= DISCORD_CUSTOM_ID_CHARS
        assert regions.decode_press(data) == regions.RegionPress(action, turn, frozenset(chosen))
    # A cell button carries the set after pressing it.
    assert regions.toggled(frozenset({1, 2}), 2) == {1} and regions.toggled(frozenset(), 5) == {5}


@pytest.mark.parametrize(
    "garbage",
    [
        "g:s:42:000",
        "g:x:42:0001",
        "a:s:42:0001",
        "g:s:042:0001",
        "g:s:-1:0001",
        "g:s:+1:0001",
        "g:s:4 2:0001",
        "g:s:42:0001:",
        "g:s:42:0001\n",
        "g:s:٤٢:0001",
        "g:s::0001",
        "g:s:42",
        "g:s:12345678901234567890:0001",
        "",
    ],
)
def test_hostile_presses_are_refused(garbage: str) -> None:
    with pytest.raises(ValueError):
        regions.decode_press(garbage)


def test_encode_press_refuses_what_it_could_not_read_back() -> None:
    for action, turn in (("x", 1), ("s", -1), ("s", 10**19)):
        with pytest.raises(ValueError):
            regions.encode_press(action, turn, {1})


def test_cells_tile_the_picture_exactly() -> None:
    for width, height in ((1024, 1024), (1537, 1023), (5, 7)):
        covered = Image.new("L", (width, height), 0)
        total = 0
        for index in range(16):
            left, top, right, bottom = regions.cell_box(index, width, height)
            total += (right - left) * (bottom - top)
            covered.paste(255, (left, top, right, bottom))
        assert total == width * height and covered.getextrema() == (255, 255)


# --- masks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "chosen"),
    [((1024, 1024), {0}), ((1536, 1024), {5, 6, 10}), ((1001, 777), {0, 15}), ((64, 64), set(range(15)))],
)
def test_the_transparent_area_is_exactly_the_chosen_cells(size: tuple[int, int], chosen: set[int]) -> None:
    width, height = size
    feather = regions.default_feather(width, height)
    alpha = alpha_of(regions.mask_from_cells(width, height, chosen))
    area = cells_area(width, height, chosen)

    assert alpha.size == size
    transparent = alpha.point([255 if v == 0 else 0 for v in range(256)])
    assert ImageChops.difference(transparent, area).getbbox() is None  # alpha 0 ⇔ a chosen cell
    # Partly transparent only within the feather band around the chosen area.
    band = cells_area(width, height, chosen, grow=feather)
    partial = alpha.point([255 if 0 < v < 255 else 0 for v in range(256)])
    assert ImageChops.subtract(partial, band).getbbox() is None
    assert partial.getbbox() is not None  # there is a feather at all


def test_the_feather_rises_outwards_and_can_be_turned_off() -> None:
    alpha = alpha_of(regions.mask_from_cells(800, 800, {0}, feather_px=20))
    row = [int(alpha.getpixel((x, 100)) or 0) for x in range(195, 225)]  # type: ignore[arg-type]
    assert row[:5] == [0] * 5 and row[-5:] == [255] * 5
    assert all(a <= b for a, b in itertools.pairwise(row))  # rises away from the area
    sharp = alpha_of(regions.mask_from_cells(800, 800, {0}, feather_px=0))
    assert sharp.histogram()[1:255] == [0] * 254


@pytest.mark.parametrize(
    ("chosen", "key"), [(set(), "region_nothing_marked"), (set(range(16)), "region_everything_marked")]
)
def test_nothing_or_everything_is_refused(chosen: set[int], key: str) -> None:
    with pytest.raises(InputError) as caught:
        regions.mask_from_cells(64, 64, chosen)
    assert caught.value.message_key == key


def painted(size: tuple[int, int], hole: tuple[int, int, int, int] | None, *, invert: bool = False) -> bytes:
    keep, change = (0, 0, 0, 255), (0, 0, 0, 0)
    if invert:
        keep, change = change, keep
    mask = Image.new("RGBA", size, keep)
    if hole is not None:
        mask.paste(change, hole)
    return encoded(mask, "PNG")


@pytest.mark.parametrize(
    ("mask", "key"),
    [
        (painted((1000, 1000), None), "region_nothing_marked"),
        (painted((1000, 1000), (10, 10, 40, 40)), "region_nothing_marked"),  # 900 px of 1 MP: a stray dot
        (painted((1000, 1000), None, invert=True), "region_everything_marked"),
        (painted((1000, 1000), (0, 0, 30, 30), invert=True), "region_everything_marked"),
    ],
)
async def test_painted_masks_marking_nothing_or_everything_are_refused(mask: bytes, key: str) -> None:
    with pytest.raises(InputError) as caught:
        await run_cpu(regions.check_mask_coverage, mask)
    assert caught.value.message_key == key


async def test_a_painted_mask_marking_some_passes() -> None:
    coverage = await run_cpu(regions.check_mask_coverage, painted((1000, 1000), (0, 0, 100, 100)))
    assert coverage.changed == 10_000 and coverage.fraction == pytest.approx(0.01)


# --- the pictures --------------------------------------------------------------------


@pytest.mark.parametrize("size", [(3840, 2160), (1024, 1536), (64, 64), (3000, 1000)])
async def test_the_grid_overlay_is_a_phone_sized_jpeg(size: tuple[int, int]) -> None:
    data = await run_cpu(grid_overlay, png("blue", size), {0, 5})
    image = opened(data)
    assert image.format == "JPEG" and len(data) < 1_000_000
    assert OVERLAY_MIN_SIDE <= max(image.size) <= OVERLAY_SIDE
    assert abs(image.width / image.height - size[0] / size[1]) < 0.02
    # A chosen cell is tinted; an unchosen one keeps the picture's colour.
    chosen_box = regions.cell_box(5, *image.size)
    free_box = regions.cell_box(10, *image.size)
    tinted = image.getpixel(_below_the_label(chosen_box))
    plain = image.getpixel(_below_the_label(free_box))
    assert isinstance(tinted, tuple) and isinstance(plain, tuple)
    assert abs(plain[2] - 220) < 12 and abs(plain[0] - 30) < 12
    assert tinted[0] > plain[0] + 60


def _below_the_label(box: tuple[int, int, int, int]) -> tuple[int, int]:
    left, top, right, bottom = box
    return (left + right) // 2, top + (bottom - top) * 3 // 4


async def test_the_grid_overlay_refuses_a_bomb_and_garbage() -> None:
    for bad in (bomb_png(30000, 30000), b"not a picture"):
        with pytest.raises(InputError):
            await run_cpu(grid_overlay, bad, {1})


async def test_the_highlight_marks_the_area_to_change() -> None:
    picture = png("blue", (1536, 1024))
    mask = regions.mask_from_cells(1536, 1024, {0}, feather_px=0)
    image = opened(await run_cpu(highlight_region, picture, mask))

    assert image.format == "JPEG" and image.size == (1536, 1024)
    inside, outside = image.getpixel((150, 100)), image.getpixel((1000, 700))
    assert isinstance(inside, tuple) and isinstance(outside, tuple)
    assert abs(outside[0] - 30) < 12 and inside[0] > 100  # tinted in, untouched out
    with pytest.raises(ValueError):
        await run_cpu(highlight_region, picture, regions.mask_from_cells(64, 64, {0}))


def entry(step: int, prompt: str, *, size: tuple[int, int] = (1024, 1024), branches: int = 0) -> SheetEntry:
    return SheetEntry(step, step - 1 or None, step, prompt, png("green", size), other_children=branches)


async def test_the_contact_sheet_is_bounded_and_draws_any_script() -> None:
    prompts = [
        "a red fox in the snow",
        "一只在雪地里的红狐狸，夜晚，满天星星",
        "اجعلها ليلية مع القمر",
        "夜にして、月を足して",
        "x" * 5000,
        "give it a scarf 🧣",
    ]
    many = [entry(i + 1, prompts[i % len(prompts)], branches=i % 3) for i in range(40)]
    data = await run_cpu(contact_sheet, many)
    sheet = opened(data)
    assert sheet.format == "JPEG" and len(data) < 2_000_000
    few = opened(await run_cpu(contact_sheet, many[:2]))
    assert few.height < sheet.height and few.width < sheet.width
    # 40 steps take no more room than the most tiles a sheet shows.
    bounded = opened(await run_cpu(contact_sheet, many[:MAX_TILES]))
    assert sheet.size == bounded.size and sheet.width <= 1100 and sheet.height <= 2000


async def test_the_contact_sheet_survives_broken_thumbnails() -> None:
    broken = SheetEntry(2, 1, 2, "broken", b"\x89PNG\r\n\x1a\nnot really", other_children=1)
    bomb = SheetEntry(3, 2, 3, "bomb", bomb_png(30000, 30000))
    data = await run_cpu(contact_sheet, [entry(1, "a fox"), broken, bomb])
    assert opened(data).format == "JPEG"
    with pytest.raises(ValueError):
        contact_sheet([])
