"""``redraw check``: reach each part the bot needs, with the real libraries, and say
in one line each whether it answered. Nothing here spends money or sends a message.

The database's line comes from the storage plugin, each platform's from its plugin
(loaded only when its token is set); the provider's is checked here."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.app.config import Settings
from bot.app.plugins import load_platform, load_storage, platform_names, token_variable
from bot.app.wiring import upstream_client
from bot.errors import DatabaseUnusable, StartupError, UpstreamError
from bot.telemetry.redaction import shown_url


class CheckFailed(Exception):
    """What is wrong, in one line for the operator."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    text: str
    skipped: bool = False

    def line(self, width: int) -> str:
        verdict = "skip" if self.skipped else "ok" if self.ok else "FAIL"
        return f"{self.name:<{width}}  {verdict:<4}  {self.text}"


async def check_database(settings: Settings) -> str:
    return await load_storage().check(settings.database_url)


async def check_provider(settings: Settings) -> str:
    if (missing := settings.provider_missing) is not None:
        raise CheckFailed(missing)
    provider = shown_url(settings.openai_base_url, hide_user=True)
    started = time.perf_counter()
    async with upstream_client(settings) as client:
        try:
            models = await client.models()
        except UpstreamError as error:
            if getattr(error, "status", None) == 404:
                # Some proxies have no model list; they answered, which is what this checks.
                return f"{provider} answered (it lists no models)"
            raise CheckFailed(f"{provider}: {error.kind}: {error.detail}") from None
    elapsed = time.perf_counter() - started
    wanted = settings.image_model
    listed = "listed" if wanted in models else "NOT listed; a proxy may still serve it"
    return f"{provider} answered in {elapsed:.1f} s; {wanted} {listed}"


def _check_platform(name: str) -> Callable[[Settings], Awaitable[str]]:
    async def check(settings: Settings) -> str:
        return await load_platform(name).check(settings)

    return check


async def run_checks(settings: Settings) -> list[CheckResult]:
    checks: list[tuple[str, Callable[[Settings], Awaitable[str]] | None, str]] = [
        ("database", check_database, ""),
        ("provider", check_provider, ""),
    ]
    for name in platform_names():
        enabled = name in settings.platforms
        checks.append(
            (name, _check_platform(name) if enabled else None, f"{token_variable(name)} is not set")
        )
    results = []
    for name, check, unset in checks:
        if check is None:
            results.append(CheckResult(name, True, unset, skipped=True))
            continue
        try:
            results.append(CheckResult(name, True, await check(settings)))
        except (CheckFailed, StartupError, DatabaseUnusable) as failure:
            results.append(CheckResult(name, False, str(failure)))
    if not settings.platforms:
        variables = " or ".join(token_variable(name) for name in platform_names())
        results.append(CheckResult("platforms", False, f"set {variables}"))
    return results
