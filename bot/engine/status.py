"""What a chat sees of one picture while it waits in line and draws.

Nothing at first: a picture that arrives within ``after_s`` costs the chat one
message, itself. After that a status message shows the place in line, or the
drawing time (every ``every_s``) and each partial preview. The status never holds
up the provider call: it only states what should be shown, and the channel sends
the latest state when the platform's budget has room after results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.engine.records import MessageKey
from bot.engine.seams import Progress
from bot.messages import render

log = logging.getLogger(__name__)


def elapsed(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


class Status:
    def __init__(self, progress: Progress, locale: str | None, *, after_s: float, every_s: float) -> None:
        self._progress = progress
        self._locale = locale
        self._place: int | None = None
        self._drawing_since: float | None = None
        self._preview: bytes | None = None
        self._changed = asyncio.Event()
        self._closed = False
        self._task = asyncio.create_task(self._run(after_s, every_s), name="redraw-status")

    def waiting(self, place: int) -> None:
        """In line: ``place`` 1 is next."""
        self._place = place
        self._changed.set()

    def drawing(self) -> None:
        self._drawing_since = time.monotonic()
        self._changed.set()

    def preview(self, data: bytes) -> None:
        """A partial image: shown with the next update, at once if the status is up."""
        self._preview = data
        self._changed.set()

    async def close(self, *, keep: bool) -> MessageKey | None:
        """No more updates. With ``keep``, the status message on screen (if any) for the
        answer to take its place; otherwise it is removed. Only the first close counts."""
        if self._closed:
            return None
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return await self._progress.close(keep=keep)

    def _text(self) -> str:
        if self._drawing_since is None and self._place is not None:
            return render("queued", self._locale, position=self._place)
        since = self._drawing_since or time.monotonic()
        return render("progress", self._locale, elapsed=elapsed(time.monotonic() - since))

    async def _run(self, after_s: float, every_s: float) -> None:
        await asyncio.sleep(after_s)
        while True:
            self._changed.clear()
            preview, self._preview = self._preview, None
            try:
                self._progress.show(self._text(), preview)
            except Exception:
                # Only a status: the picture goes on, and the next change tries again.
                log.warning("could not show a status", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), every_s)
