"""What the tests of region edits check in a request the fake provider recorded: the mask
it carried, and that its transparent area is exactly the chosen grid cells."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image

from bot.images import regions

DOCS = Path(__file__).resolve().parent.parent / "docs"


def mask_of(request: Any) -> bytes:
    """The mask of a recorded request: ``mask`` in /images/edits, the tool's
    ``input_image_mask`` in /responses."""
    for file in request.files:
        if file.name == "mask":
            return bytes(file.data)
    if isinstance(request.json, dict):
        for tool in request.json.get("tools") or []:
            found = tool.get("input_image_mask") if isinstance(tool, dict) else None
            if found:
                url = found["image_url"]
                return base64.b64decode(url.split(",", 1)[1])
    raise AssertionError(f"no mask in the request to {request.path}")


def assert_mask_is_cells(mask: bytes, cells: set[str], size: tuple[int, int]) -> None:
    """Fully transparent exactly on ``cells`` (labels such as ``B2``); within the feather
    band around them partly transparent, and opaque beyond it."""
    with Image.open(io.BytesIO(mask)) as image:
        assert image.format == "PNG" and image.size == size, (image.format, image.size)
        alpha = image.convert("RGBA").getchannel("A")
    width, height = size
    chosen = Image.new("L", size, 0)
    for label in cells:
        chosen.paste(255, regions.cell_box(regions.parse_cell(label), width, height))
    feather = regions.default_feather(width, height)
    data, inside = alpha.tobytes(), chosen.tobytes()
    # The transparent area is exactly the chosen cells.
    assert all((a == 0) == bool(c) for a, c in zip(data, inside, strict=True))
    # Beyond the feather band (Chebyshev distance) every pixel is kept as it is (opaque).
    near = Image.new("L", size, 0)
    for label in cells:
        left, top, right, bottom = regions.cell_box(regions.parse_cell(label), width, height)
        near.paste(255, (left - feather - 1, top - feather - 1, right + feather + 1, bottom + feather + 1))
    assert all(a == 255 for a, n in zip(data, near.tobytes(), strict=True) if not n)


def save_doc_image(name: str, data: bytes) -> None:
    """Keep a picture a test produced as the README's illustration (docs/<name>)."""
    DOCS.mkdir(exist_ok=True)
    with Image.open(io.BytesIO(data)) as image:
        image.save(DOCS / name, "PNG", optimize=True)
