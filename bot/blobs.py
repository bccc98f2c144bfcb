"""Where image bytes live. Backend state refers to images by blob id (their sha256),
never by inline base64, so stored state stays small.

``storage/`` provides the durable, content-addressed file store; the memory store
serves tests, benchmarks and the one-shot CLI.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from bot.images.offload import run_cpu


class BlobNotFound(KeyError):
    pass


class BlobStore(Protocol):
    async def put(self, data: bytes, *, sha256: str | None = None) -> str:
        """Store ``data``; return its id (the sha256 hex digest). ``sha256`` skips rehashing."""
        ...

    async def get(self, blob_id: str) -> bytes: ...


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    async def put(self, data: bytes, *, sha256: str | None = None) -> str:
        blob_id = sha256 if sha256 is not None else await run_cpu(_sha256, data)
        self._blobs[blob_id] = data
        return blob_id

    async def get(self, blob_id: str) -> bytes:
        try:
            return self._blobs[blob_id]
        except KeyError:
            raise BlobNotFound(blob_id) from None

    def __len__(self) -> int:
        return len(self._blobs)
