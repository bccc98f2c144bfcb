"""Content-addressed image files under ``REDRAW_DATA_DIR/blobs`` (by sha256).

Implements :class:`bot.blobs.BlobStore`; an S3-compatible store can follow the
same protocol. Writes are atomic (temp file + rename), so a crash never leaves a
half image under a valid name.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path

from bot.blobs import BlobNotFound
from bot.images.offload import run_cpu

_BLOB_ID = re.compile(r"^[0-9a-f]{64}$")


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        if not _BLOB_ID.match(blob_id):
            raise BlobNotFound(blob_id)
        return self.root / blob_id[:2] / blob_id[2:]

    async def put(self, data: bytes, *, sha256: str | None = None) -> str:
        blob_id = sha256 if sha256 is not None else await run_cpu(_sha256, data)
        await asyncio.to_thread(self._write, blob_id, data)
        return blob_id

    def _write(self, blob_id: str, data: bytes) -> None:
        target = self.path(blob_id)
        if target.exists():
            os.utime(target)  # same content: only refresh its age for retention
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, blob_id: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(blob_id).read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(blob_id) from None

    async def prune(self, older_than_days: float) -> int:
        """Delete blobs not written or reused for ``older_than_days``; returns how many."""
        return await asyncio.to_thread(self._prune, time.time() - older_than_days * 86400)

    def _prune(self, cutoff: float) -> int:
        removed = 0
        for path in self.root.glob("??/*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
