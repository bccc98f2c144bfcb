"""One process's bot: storage, the provider client, the engine and the platform
adapters, started and stopped in the order that loses nothing.

Start: storage → engine → each platform logs in (taking no updates yet) → crash
recovery tells chats about turns a previous run left unfinished → updates flow.
Stop (SIGTERM, SIGINT): no more updates → the ones taken are finished → turns in
flight get ``REDRAW_SHUTDOWN_GRACE_S`` to finish, the rest are interrupted (their
chats get Retry) → platforms log out → storage closes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.app.config import Settings
from bot.app.plugins import OpenStore, PlatformAdapter, WebPages, load_platform, load_web_pages
from bot.app.wiring import build_engine, engine_options, open_storage, upstream_client
from bot.backends import UpstreamClient
from bot.engine.entry import Engine
from bot.engine.options import EngineOptions

if TYPE_CHECKING:
    from bot.app.monitor import Monitor

log = logging.getLogger(__name__)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        platforms: Sequence[str],
        *,
        options: EngineOptions | None = None,
        adapter_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.platforms = list(platforms)
        self.options = options or engine_options(settings)
        self.adapter_options = adapter_options or {}
        self.adapters: list[PlatformAdapter] = []
        self._store: OpenStore | None = None
        self._client: UpstreamClient | None = None
        self._engine: Engine | None = None
        self._monitor: Monitor | None = None
        self._pages: WebPages | None = None
        self._receiving = False

    @property
    def engine(self) -> Engine:
        assert self._engine is not None, "the runtime is not started"
        return self._engine

    @property
    def store(self) -> OpenStore:
        assert self._store is not None, "the runtime is not started"
        return self._store

    async def start(self) -> None:
        if self.settings.redraw_metrics_port is not None:
            # Only then: aiohttp and prometheus_client stay out of memory otherwise.
            from bot.app.monitor import Monitor  # noqa: PLC0415

            # First, so a health check sees a starting instance as unhealthy rather than absent.
            self._monitor = Monitor(
                self.problems, self.settings.redraw_metrics_listen, self.settings.redraw_metrics_port
            )
            await self._monitor.start()
        self._store, blobs = await open_storage(self.settings)
        self._client = upstream_client(self.settings)
        self._engine = build_engine(self.settings, self._store, blobs, self._client, self.options)
        for platform in self.platforms:
            adapter = self._adapter(platform, self._engine)
            try:
                await adapter.start()
            except BaseException:
                # Not yet among self.adapters, so stop() would not close it.
                await _quietly(adapter.close(), f"close {platform}")
                raise
            self.adapters.append(adapter)
        channels = {adapter.platform: adapter.channel for adapter in self.adapters}
        recovered = await self._engine.recover(channels)
        if recovered:
            log.warning(
                "%d turns were left unfinished by the last run; their chats were told", len(recovered)
            )
        if self.settings.redraw_public_url is not None:
            # Only then: the pages' server and aiohttp stay out of memory otherwise.
            self._pages = await load_web_pages()(self.settings, self._engine, channels)
        for adapter in self.adapters:
            await adapter.recover_receptions()
            await adapter.start_receiving()
        self._receiving = True

    def problems(self) -> list[str]:
        """What keeps this instance from serving (empty: healthy)."""
        if self._engine is None or not self._receiving:
            return ["starting"]
        found = [self._engine.health()] + [adapter.health() for adapter in self.adapters]
        return [problem for problem in found if problem is not None]

    def _adapter(self, platform: str, engine: Engine) -> PlatformAdapter:
        # Loaded here, and only for the platforms that run: a Discord-only deployment
        # need not load python-telegram-bot.
        return load_platform(platform).build(self.settings, engine, **self.adapter_options.get(platform, {}))

    async def stop(self, grace_s: float | None = None) -> None:
        grace = self.settings.redraw_shutdown_grace_s if grace_s is None else grace_s
        self._receiving = False
        if self._pages is not None:
            await _quietly(self._pages.close(), "close the web pages")
            self._pages = None
        for adapter in self.adapters:
            await _quietly(adapter.stop_receiving(), f"stop receiving on {adapter.platform}")
        if self._engine is not None:
            if self._engine.in_flight:
                log.info("waiting up to %g s for %d drawings in flight", grace, self._engine.in_flight)
            await self._engine.shutdown(grace)
        for adapter in self.adapters:
            await _quietly(adapter.close(), f"close {adapter.platform}")
        self.adapters.clear()
        if self._client is not None:
            await self._client.aclose()
        if self._store is not None:
            await self._store.close()
        if self._monitor is not None:
            await self._monitor.close()


async def _quietly(work: Any, what: str) -> None:
    try:
        await work
    except Exception:
        log.exception("could not %s", what)


def settle_memory() -> None:
    """Once started: what the process holds for good (modules, clients, tables) moves out of
    the garbage collector's sight. A full collection otherwise walks all of it, stalling the
    event loop for 50-90 ms every few seconds under load (measured: the slowest provider
    starts of ``bench/platform.py``'s steady run were each one such collection)."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings, platforms: Sequence[str]) -> bool:
    """Run until SIGTERM or SIGINT, then stop cleanly; True then. False when a platform
    stopped taking updates for good (the caller exits non-zero, for a restart). Raises
    StartupError when a platform can't be started."""
    runtime = Runtime(settings, platforms)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runtime.start()
        settle_memory()
        log.info("redraw is running on %s; stop with Ctrl-C or SIGTERM", ", ".join(platforms))
        waits = [asyncio.create_task(stop.wait())]
        waits += [asyncio.create_task(adapter.lost.wait()) for adapter in runtime.adapters]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
        lost = [adapter.platform for adapter in runtime.adapters if adapter.lost.is_set()]
        if lost:
            log.error("stopping: %s stopped taking updates for good", ", ".join(lost))
            return False
        log.info("stopping: finishing what is in flight")
        return True
    finally:
        await runtime.stop()
