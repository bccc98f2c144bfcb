"""A bot process for platform tests: `redraw run`'s Runtime, started and stopped at will
against the fakes, with short waits so tests run fast."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.app.config import Settings
from bot.app.runtime import Runtime
from bot.app.wiring import engine_options
from tests.fakes.openai_server import FakeOpenAI


@dataclass(kw_only=True)
class BotWorld:
    openai: FakeOpenAI
    settings: Settings
    # The platforms a start runs, and each one's adapter options (its short waits).
    platforms: tuple[str, ...]
    adapter_options: Mapping[str, Mapping[str, Any]]
    runtimes: list[Runtime] = field(default_factory=list)

    async def start(
        self,
        progress_every_s: float = 0.2,
        status_after_s: float = 0.2,
        adapter: dict[str, Any] | None = None,
        platforms: tuple[str, ...] | None = None,
        **settings: Any,
    ) -> Runtime:
        """Start a bot process; ``settings`` override the world's, ``adapter`` the first platform's options."""
        unknown = set(settings) - set(Settings.model_fields)
        assert not unknown, f"not settings: {unknown}"
        current = self.settings.model_copy(update=settings)
        # Quicker than the real 5 s and 2 s, so tests run fast.
        options = replace(
            engine_options(current), progress_every_s=progress_every_s, status_after_s=status_after_s
        )
        adapter_options = {name: dict(values) for name, values in self.adapter_options.items()}
        adapter_options[self.platforms[0]].update(adapter or {})
        runtime = Runtime(
            current, list(platforms or self.platforms), options=options, adapter_options=adapter_options
        )
        try:
            await runtime.start()
        except BaseException:
            await runtime.stop(0)
            raise
        self.runtimes.append(runtime)
        return runtime

    async def stop(self, runtime: Runtime, grace_s: float = 5.0) -> None:
        await runtime.stop(grace_s)
        self.runtimes.remove(runtime)

    async def crash(self, runtime: Runtime) -> None:
        """The process dies: no more updates, no more heartbeat, its liveness lock is let
        go (as the kernel or the database server does for a dead process), its turns never finish."""
        for adapter in runtime.adapters:
            await adapter.stop_receiving()
        await runtime.engine.abandon()

    async def stop_all(self) -> None:
        for runtime in list(self.runtimes):
            await self.stop(runtime, grace_s=0)

    def provider_calls(self) -> list[Any]:
        return [request for request in self.openai.requests if request.path.startswith("/v1/")]
