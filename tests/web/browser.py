"""Playwright on the distribution's Chromium (never a downloaded browser).

``REDRAW_CHROMIUM`` names the binary; otherwise ``chromium`` on PATH or /usr/bin/chromium.
Read at import: the tests' environment is cleaned of ``REDRAW_*`` variables.
Without a Chromium the browser tests skip, except under CI (``CI`` set) or when
``REDRAW_CHROMIUM`` names one that is not there, where they fail.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Page

# Named: it must be there (.ci/run names it).
NAMED = os.environ.get("REDRAW_CHROMIUM") or None
CHROMIUM = (
    NAMED
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
    or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
)
IN_CI = bool(os.environ.get("CI"))
DOCS = Path(__file__).resolve().parents[2] / "docs"


def chromium_or_skip() -> str:
    if NAMED is not None and not Path(NAMED).is_file():
        pytest.fail(f"REDRAW_CHROMIUM={NAMED} is not there: install chromium (apt-get install chromium)")
    if CHROMIUM is None:
        message = "no Chromium: install the distribution's (apt-get install chromium) or set REDRAW_CHROMIUM"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


async def page_mask(page: Page) -> bytes:
    """The mask the page would send now, as PNG bytes."""
    encoded = await page.evaluate(
        """async () => {
            const blob = await window.redrawMask();
            const bytes = new Uint8Array(await blob.arrayBuffer());
            let text = "";
            for (const b of bytes) text += String.fromCharCode(b);
            return btoa(text);
        }"""
    )
    return base64.b64decode(encoded)
