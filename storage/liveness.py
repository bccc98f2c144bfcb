"""Whether an instance is alive, from something that dies with its process.

A heartbeat alone makes a crashed instance look alive until its lease runs out
(90 s of nobody hearing about their picture). So each instance also holds a lock
that the operating system or the database server lets go the moment the process
or its connection dies:

- PostgreSQL: a session-level advisory lock, held on a connection of its own. The
  server drops it when that connection dies; others test it with
  ``pg_try_advisory_xact_lock`` inside their sweep's transaction.
- SQLite: an exclusive ``flock`` on a file beside the database (one writer host
  anyway). The kernel drops it when the process dies.

The heartbeat stays as the fallback for an instance that hangs with its lock held.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, func, select

if TYPE_CHECKING:
    # Only for PostgreSQL's locks: the async engine loads sqlalchemy.orm, which SQLite never needs.
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# The first half of Redraw's two-part advisory lock keys (two int4 keys never meet the
# one-bigint key space that the slot lock uses).
_LOCK_SPACE = 0x52445257  # "RDRW"


class Liveness(Protocol):
    async def hold(self, instance_id: str) -> None:
        """Take this instance's lock, or check it is still held and take it again if lost."""
        ...

    async def release(self, instance_id: str) -> None:
        """Let the lock go (a clean stop, or what a death does)."""
        ...

    def alive(self, connection: Connection, instance_ids: Iterable[str]) -> set[str]:
        """Which of these instances still hold their lock (run inside a transaction)."""
        ...

    async def close(self) -> None: ...


def _pg_key(instance_id: str) -> int:
    """A signed int4 from the instance id."""
    key = zlib.crc32(instance_id.encode())
    return key - 2**32 if key >= 2**31 else key


class AdvisoryLocks:
    """PostgreSQL: one session lock per instance, on a connection kept for it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._held: dict[str, AsyncConnection] = {}

    async def hold(self, instance_id: str) -> None:
        connection = self._held.get(instance_id)
        if connection is not None:
            try:
                await connection.execute(select(1))
                return
            except Exception:
                # The server dropped the connection, and the lock with it: take both again.
                log.warning("the liveness lock of instance %s was lost; taking it again", instance_id)
                self._held.pop(instance_id, None)
                with contextlib.suppress(Exception):
                    await connection.close()
        connection = await self._engine.connect()
        try:
            await connection.execute(select(func.pg_advisory_lock(_LOCK_SPACE, _pg_key(instance_id))))
        except BaseException:
            await connection.close()
            raise
        self._held[instance_id] = connection

    async def release(self, instance_id: str) -> None:
        connection = self._held.pop(instance_id, None)
        if connection is None:
            return
        # Closing the session releases its locks; invalidate so the pool never reuses it.
        with contextlib.suppress(Exception):
            await connection.invalidate()
        with contextlib.suppress(Exception):
            await connection.close()

    def alive(self, connection: Connection, instance_ids: Iterable[str]) -> set[str]:
        found = set()
        for instance_id in instance_ids:
            # Free means its session is gone; taken for this transaction only, so nothing lingers.
            free = connection.execute(
                select(func.pg_try_advisory_xact_lock(_LOCK_SPACE, _pg_key(instance_id)))
            ).scalar_one()
            if not free:
                found.add(instance_id)
        return found

    async def close(self) -> None:
        for instance_id in list(self._held):
            await self.release(instance_id)


class FileLocks:
    """SQLite: one ``flock``-ed file per instance in a folder beside the database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._held: dict[str, int] = {}

    def _path(self, instance_id: str) -> Path:
        return self.directory / f"{hashlib.sha1(instance_id.encode()).hexdigest()}.lock"

    async def hold(self, instance_id: str) -> None:
        if instance_id in self._held:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self._path(instance_id), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(descriptor)
            raise
        self._held[instance_id] = descriptor

    async def release(self, instance_id: str) -> None:
        descriptor = self._held.pop(instance_id, None)
        if descriptor is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self._path(instance_id).unlink()
        os.close(descriptor)  # closing the last descriptor drops the lock

    def alive(self, connection: Connection, instance_ids: Iterable[str]) -> set[str]:
        return {instance_id for instance_id in instance_ids if self._locked(instance_id)}

    def _locked(self, instance_id: str) -> bool:
        path = self._path(instance_id)
        try:
            descriptor = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            # Nobody held it: its process is gone. Tidy up after it.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return False
        finally:
            os.close(descriptor)

    async def close(self) -> None:
        for instance_id in list(self._held):
            await self.release(instance_id)


class NoLocks:
    """An in-memory SQLite database lives and dies with its one process: every
    registered instance counts as alive, and the heartbeat alone decides."""

    async def hold(self, instance_id: str) -> None:
        return None

    async def release(self, instance_id: str) -> None:
        return None

    def alive(self, connection: Connection, instance_ids: Iterable[str]) -> set[str]:
        return set(instance_ids)

    async def close(self) -> None:
        return None
