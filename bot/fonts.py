"""Fonts for the text the bot draws on pictures (grid labels, the versions sheet).

Prompts come in any script. The fonts are the system's: fontconfig is asked which
files cover Chinese, Japanese, Korean, Arabic and the rest (``fc-list :lang=…``),
then a few well-known paths (DejaVu, Noto) are tried. For each piece of text the
first font that has a glyph for every character is used; failing that, the one
that covers most of it (missing glyphs show as boxes, never as a crash). With no
font on the system at all, Pillow's own default font is used.

Synchronous, and the first call runs ``fc-list``: call from the image pool.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from PIL import ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
# Scripts whose fonts are looked for, in this order after the general ones.
_LANGUAGES = ("en", "zh-cn", "zh-tw", "ja", "ko", "ar", "fa", "hi", "ru")
_KNOWN_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf",
    "/System/Library/Fonts/PingFang.ttc",
)
_FC_TIMEOUT_S = 5
# Enough for a font per script; every one is tried on text none of them draws whole.
MAX_FONTS = 12
# A character no font has: what a missing glyph looks like in each font.
_NO_GLYPH = "\uffff"


@functools.cache
def font_files() -> tuple[str, ...]:
    """Candidate font files, best first, each once."""
    found: list[str] = []
    fc_list = shutil.which("fc-list")
    if fc_list is not None:
        for language in _LANGUAGES:
            try:
                listed = subprocess.run(
                    [fc_list, f":lang={language}", "file"],
                    capture_output=True,
                    text=True,
                    timeout=_FC_TIMEOUT_S,
                    check=False,
                ).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            paths = sorted(line.strip().rstrip(":") for line in listed.splitlines() if line.strip())
            found += sorted(paths, key=_plainness)
    found += [path for path in _KNOWN_PATHS if Path(path).is_file()]
    usable = [path for path in dict.fromkeys(found) if path.endswith((".ttf", ".otf", ".ttc"))]
    plain = [path for path in usable if not _plainness(path)[0]]
    return tuple((plain or usable)[:MAX_FONTS])


def _plainness(path: str) -> tuple[bool, ...]:
    """Regular sans first: it reads best small. Then serif, mono, and styled faces."""
    name = Path(path).name
    words = ("Bold", "Italic", "Oblique", "Light", "Condensed", "Narrow", "Math")
    styled = any(word in name for word in words)
    return (styled, "Mono" in name, "Serif" in name, "Sans" not in name)


def printable(text: str, font: Font) -> str:
    """``text`` as ``font`` can take it: Pillow's bitmap fallback knows Latin-1 only."""
    if isinstance(font, ImageFont.FreeTypeFont):
        return text
    return text.encode("latin-1", "replace").decode("latin-1")


@functools.cache
def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return None


def _fonts(size: int) -> list[ImageFont.FreeTypeFont]:
    return [font for path in font_files() if (font := _truetype(path, size)) is not None]


@functools.cache
def _blank_mask(path: str, size: int) -> bytes:
    font = _truetype(path, size)
    return bytes(font.getmask(_NO_GLYPH)) if font is not None else b""


@functools.cache
def has_glyph(path: str, size: int, char: str) -> bool:
    """Whether the font at ``path`` draws ``char`` (spaces always count as drawn)."""
    if char.isspace():
        return True
    font = _truetype(path, size)
    if font is None:
        return False
    return bytes(font.getmask(char)) != _blank_mask(path, size)


def font_for(text: str, size: int) -> Font:
    """The font that draws the most of ``text`` (all of it when one can)."""
    best: Font | None = None
    best_missing = len(text) + 1
    for font in _fonts(size):
        path = str(font.path)
        missing = sum(not has_glyph(path, size, char) for char in set(text))
        if missing < best_missing:
            best, best_missing = font, missing
        if missing == 0:
            break
    return best if best is not None else ImageFont.load_default(size)


def first_drawable(candidates: tuple[str, ...], size: int) -> str:
    """The first of ``candidates`` some font draws whole (the last one otherwise)."""
    for text in candidates:
        font = font_for(text, size)
        if not isinstance(font, ImageFont.FreeTypeFont):
            continue
        if all(has_glyph(str(font.path), size, char) for char in text):
            return text
    return candidates[-1]
