"""``redraw check``: reach each part the bot needs, with the real libraries, and say
in one line each whether it answered. Nothing here spends money or sends a message."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord
from discord.http import Route
from sqlalchemy.engine import make_url
from telegram import Bot

from adapters.discord_adapter.service import api_base, log_in
from adapters.runtime import StartupError
from adapters.telegram_adapter.service import logged_in
from bot.backends import UpstreamClient
from bot.config import Settings
from bot.errors import UpstreamError
from bot.redaction import shown_url
from storage.db import DatabaseUnusable, schema_of


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
    url = settings.database_url
    where = shown_url(url)
    sqlite = make_url(url).get_backend_name() == "sqlite"
    try:
        schema = await schema_of(url)
    except DatabaseUnusable as error:
        raise CheckFailed(f"{where}: {error}") from None
    if schema.problem is None:
        newer = "" if schema.known else f" (newer than this version's {schema.head})"
        return f"{where}, schema {schema.current}{newer}"
    if sqlite:
        return f"{where}, schema {schema.current or 'none'}; brought to {schema.head} when the bot starts"
    raise CheckFailed(f"{where}: {schema.problem}")


async def check_provider(settings: Settings) -> str:
    if (missing := settings.provider_missing) is not None:
        raise CheckFailed(missing)
    provider = shown_url(settings.openai_base_url, hide_user=True)
    started = time.perf_counter()
    async with UpstreamClient.from_settings(settings) as client:
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


async def check_telegram(settings: Settings) -> str:
    assert settings.telegram_bot_token is not None
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url or "https://api.telegram.org/bot",
        base_file_url=settings.telegram_api_file_url or "https://api.telegram.org/file/bot",
    )
    try:
        await logged_in(bot.initialize(), settings)
        me = bot.bot
    finally:
        await bot.shutdown()
    mode = f"webhook {settings.redraw_webhook_url}" if settings.redraw_webhook_url else "long polling"
    return f"@{me.username} (id {me.id}), {mode}"


async def check_discord(settings: Settings) -> str:
    assert settings.discord_bot_token is not None
    if settings.discord_api_base_url:
        Route.BASE = api_base(settings.discord_api_base_url)
    client = discord.Client(intents=discord.Intents.none())
    try:
        await log_in(client, settings.discord_bot_token.get_secret_value())
        user = client.user
    finally:
        await client.close()
    return f"logged in as {user} (id {user.id if user else '?'})"


async def run_checks(settings: Settings) -> list[CheckResult]:
    checks: list[tuple[str, Callable[[Settings], Awaitable[str]] | None, str]] = [
        ("database", check_database, ""),
        ("provider", check_provider, ""),
        (
            "telegram",
            check_telegram if settings.telegram_bot_token else None,
            "TELEGRAM_BOT_TOKEN is not set",
        ),
        ("discord", check_discord if settings.discord_bot_token else None, "DISCORD_BOT_TOKEN is not set"),
    ]
    results = []
    for name, check, unset in checks:
        if check is None:
            results.append(CheckResult(name, True, unset, skipped=True))
            continue
        try:
            results.append(CheckResult(name, True, await check(settings)))
        except (CheckFailed, StartupError) as failure:
            results.append(CheckResult(name, False, str(failure)))
    if not settings.platforms:
        results.append(CheckResult("platforms", False, "set TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN"))
    return results
