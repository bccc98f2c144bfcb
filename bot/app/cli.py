"""The ``redraw`` command (also ``python -m bot``).

``redraw run`` runs the bot on every platform whose token is set (or the one
named by ``--platform``); ``redraw config`` shows the effective settings;
``redraw check`` reaches the database, the provider and each platform;
``redraw draw`` makes one image through the configured backend: a quick
end-to-end check of a key or a proxy; ``redraw db upgrade`` migrates the database;
``redraw stats`` sums up turns, cost and errors over a period.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot import __version__
from bot.app import logs
from bot.app.cli_messages import render_cli_error
from bot.app.config import ConfigError, Settings, load_settings
from bot.app.plugins import load_storage, platform_names, token_variable
from bot.app.wiring import build_backends, upstream_client
from bot.blobs import MemoryBlobStore
from bot.errors import DatabaseUnusable, InputError, StartupError, UpstreamError
from bot.images.types import MIME_EXTENSIONS, ImageParams, PartialImage
from bot.images.validation import prepare_request
from bot.telemetry.redaction import shown_url

EXIT_INPUT = 2
EXIT_UPSTREAM = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redraw",
        description="Redraw: ChatGPT-style image generation and chained editing for Telegram and Discord.",
        epilog="Settings come from the environment and .env; see README.md for the full table.",
    )
    parser.add_argument("--version", action="version", version=f"redraw {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log provider calls and retries")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (every platform whose token is set)")
    run.add_argument("--platform", choices=platform_names(), help="run only this platform")

    commands.add_parser("config", help="validate the settings and print them (secrets hidden)")
    commands.add_parser(
        "check", help="validate the settings and reach the database, the provider and each platform"
    )

    commands.add_parser(
        "health", help="ask the running bot's /healthz (REDRAW_METRICS_PORT); Docker's health check"
    )

    stats = commands.add_parser("stats", help="turns, images, cost and errors over a period")
    period = stats.add_mutually_exclusive_group()
    period.add_argument("--days", type=float, default=30, help="the last N days (default 30)")
    period.add_argument("--since", type=date.fromisoformat, help="from this UTC date on (YYYY-MM-DD)")
    stats.add_argument("--json", action="store_true", help="print one JSON object")

    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    database_commands.add_parser("upgrade", help="apply every migration (SQLite also does this on start)")

    draw = commands.add_parser("draw", help="make one image with the configured backend and save it")
    draw.add_argument("prompt", help="what to draw, or how to change the input images")
    draw.add_argument(
        "-i", "--image", action="append", type=Path, default=[], help="an input image (repeatable)"
    )
    draw.add_argument(
        "--mask", type=Path, help="PNG mask for the first input image (transparent = edit here)"
    )
    draw.add_argument("--size", default="auto", help="auto, a preset such as 1536x1024, or WIDTHxHEIGHT")
    draw.add_argument("--quality", default="auto", choices=["auto", "low", "medium", "high"])
    draw.add_argument("--format", dest="output_format", default="png", choices=["png", "jpeg", "webp"])
    draw.add_argument("--compression", type=int, help="1-100, for jpeg and webp")
    draw.add_argument("-n", type=int, default=1, help="number of images (images backend)")
    draw.add_argument("--backend", choices=["responses", "chat", "images"], help="override REDRAW_BACKEND")
    draw.add_argument("-o", "--out", type=Path, default=Path("."), help="directory for the images")
    draw.add_argument("--lang", default="en", help="language of error messages: en, zh, de, pt-BR…")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logs.configure(None, verbose=args.verbose, quiet_default=args.command != "run")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"redraw: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_INPUT
    # Again, now that the secrets to keep out of the logs are known.
    logs.configure(settings, verbose=args.verbose, quiet_default=args.command != "run")
    if args.command == "run":
        return run_bot(settings, args.platform)
    if args.command == "config":
        return show_config(settings)
    if args.command == "health":
        return health(settings)
    if args.command == "check":
        return asyncio.run(check(settings))
    if args.command == "stats":
        return asyncio.run(show_stats(settings, args))
    if args.command == "db":
        return asyncio.run(upgrade_database(settings))
    return asyncio.run(draw(settings, args))


def _provider_configured(settings: Settings) -> bool:
    """Says what is missing when no provider is configured."""
    if (missing := settings.provider_missing) is not None:
        print(f"redraw: {missing}", file=sys.stderr)
        return False
    return True


def run_bot(settings: Settings, platform: str | None) -> int:
    platforms = [platform] if platform else settings.platforms
    if not platforms:
        print("redraw: set TELEGRAM_BOT_TOKEN (or DISCORD_BOT_TOKEN) to run the bot", file=sys.stderr)
        return EXIT_INPUT
    for name in platforms:
        if name not in settings.platforms:
            print(f"redraw: --platform {name} needs {token_variable(name)}", file=sys.stderr)
            return EXIT_INPUT
    if not _provider_configured(settings):
        return EXIT_INPUT
    # Imported here: the runtime loads the web server and, through the plugins, the
    # platform libraries, which other commands don't need.
    from bot.app.runtime import serve  # noqa: PLC0415

    try:
        clean = asyncio.run(serve(settings, platforms))
    except (StartupError, DatabaseUnusable) as exc:
        print(f"redraw: {exc}", file=sys.stderr)
        return EXIT_UPSTREAM
    return 0 if clean else EXIT_UPSTREAM


def show_config(settings: Settings) -> int:
    # Warnings were already logged by load_settings.
    signer = "REDRAW_WEB_SECRET" if settings.redraw_web_secret else "a key derived from the platform tokens"
    rows = {
        "backend": settings.redraw_backend,
        "image model": " → ".join(settings.image_models),
        "responses model": settings.redraw_responses_model,
        "provider": shown_url(settings.openai_base_url, hide_user=True),
        "api key": "set" if settings.openai_api_key else "NOT SET",
        "platforms": ", ".join(settings.platforms) or "none (set TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN)",
        "telegram updates": (
            f"webhook {shown_url(settings.redraw_webhook_url)} (listening on "
            f"{settings.redraw_webhook_listen}:{settings.redraw_webhook_port})"
            if settings.redraw_webhook_url
            else "long polling"
        ),
        "web pages": (
            f"{shown_url(settings.redraw_public_url)} (served on port {settings.redraw_web_port}, "
            f"links signed with {signer})"
            if settings.redraw_public_url
            else "none (set REDRAW_PUBLIC_URL for the mask painter and the versions page)"
        ),
        "data dir": str(settings.redraw_data_dir),
        "database": shown_url(settings.database_url),
        "timeouts": f"connect {settings.redraw_connect_timeout:g} s, read {settings.redraw_read_timeout:g} s",
        "retries": (
            f"{settings.redraw_retry_attempts} attempts within {settings.redraw_retry_max_seconds:g} s"
        ),
        "partial previews": str(settings.redraw_partial_images),
    }
    width = max(map(len, rows))
    for name, value in rows.items():
        print(f"{name:<{width}}  {value}")
    return 0


def health(settings: Settings) -> int:
    """0 when the bot on this machine says it is healthy; its problems otherwise."""
    if settings.redraw_metrics_port is None:
        print("redraw: health needs REDRAW_METRICS_PORT (the bot serves /healthz there)", file=sys.stderr)
        return EXIT_INPUT
    url = f"http://127.0.0.1:{settings.redraw_metrics_port}/healthz"
    # Imported here: only `redraw health` needs them, and `redraw run` would keep them.
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            print(response.read().decode().strip())
            return 0
    except urllib.error.HTTPError as error:
        print(f"unhealthy: {error.read().decode().strip()}", file=sys.stderr)
    except OSError as error:
        print(f"unhealthy: nothing answers at {url} ({error})", file=sys.stderr)
    return EXIT_UPSTREAM


async def check(settings: Settings) -> int:
    """One line for the configuration and one for each part; non-zero when any fails."""
    # Imported here: the checks load the plugins, and they the platform libraries.
    from bot.app.checks import CheckResult, run_checks  # noqa: PLC0415

    results = [CheckResult("config", True, f"{settings.redraw_backend} backend, {settings.image_model}")]
    results += await run_checks(settings)
    width = max(len(result.name) for result in results)
    for result in results:
        print(result.line(width))
    return 0 if all(result.ok for result in results) else EXIT_UPSTREAM


async def show_stats(settings: Settings, args: argparse.Namespace) -> int:
    storage = load_storage()
    if args.since is not None:
        since = datetime(args.since.year, args.since.month, args.since.day, tzinfo=UTC)
    else:
        since = datetime.now(UTC) - timedelta(days=args.days)
    store = storage.open_store(settings.database_url)
    try:
        stats = await store.stats(since)
    except Exception as error:
        print(f"redraw: {storage.explain(error, settings.database_url)}", file=sys.stderr)
        return EXIT_UPSTREAM
    finally:
        await store.close()
    if args.json:
        print(json.dumps({"since": since.isoformat(), **asdict(stats)}))
        return 0
    turns = sum(stats.turns_by_status.values())
    statuses = ", ".join(f"{name} {count}" for name, count in sorted(stats.turns_by_status.items()))
    print(f"since   {since:%Y-%m-%d %H:%M} UTC")
    print(f"turns   {turns}" + (f" ({statuses})" if statuses else ""))
    print(f"images  {stats.images}")
    print(f"cost    ${stats.cost_usd:.2f}")
    for platform, (images, cost) in sorted(stats.by_platform.items()):
        print(f"  {platform:<10} {images} images, ${cost:.2f}")
    errors = sorted(stats.errors_by_kind.items(), key=lambda item: -item[1])
    print("errors  " + (", ".join(f"{kind} {count}" for kind, count in errors) or "none"))
    return 0


async def upgrade_database(settings: Settings) -> int:
    where = shown_url(settings.database_url)
    try:
        # The storage plugin is the only part that loads SQLAlchemy and Alembic.
        done = await load_storage().migrate(settings.database_url)
    except DatabaseUnusable as exc:
        print(f"redraw: {exc}", file=sys.stderr)
        return EXIT_UPSTREAM
    if not done.applied:
        print(f"{where}: already at {done.after} (head)")
    else:
        start = done.before or "an empty database"
        print(f"{where}: applied {', '.join(done.applied)} ({start} → {done.after}, head)")
    return 0


async def draw(settings: Settings, args: argparse.Namespace) -> int:
    backend_name = args.backend or settings.redraw_backend
    if not _provider_configured(settings):
        return EXIT_INPUT
    params = ImageParams(
        size=args.size,
        quality=args.quality,
        output_format=args.output_format,
        output_compression=args.compression,
        n=args.n,
    )
    try:
        images = [path.read_bytes() for path in args.image]
        mask = args.mask.read_bytes() if args.mask else None
    except OSError as exc:
        print(f"redraw: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_INPUT
    try:
        request = await prepare_request(
            args.prompt,
            params,
            model=settings.model_for(backend_name),
            backend=backend_name,
            images=images,
            mask=mask,
        )
    except InputError as exc:
        print(f"redraw: {render_cli_error(exc, args.lang)}", file=sys.stderr)
        return EXIT_INPUT

    async def show_partial(partial: PartialImage) -> None:
        print(f"… preview {partial.index + 1} ({len(partial.data):,} bytes)", file=sys.stderr)

    async with upstream_client(settings) as client:
        backend = build_backends(settings, client, MemoryBlobStore())[backend_name]
        try:
            result = await backend.run(request, on_partial=show_partial)
        except UpstreamError as exc:
            redact = logs.Redactor(logs.secrets_of(settings))
            print(f"redraw: {render_cli_error(exc, args.lang)}", file=sys.stderr)
            where = shown_url(settings.openai_base_url, hide_user=True)
            detail = f"  ({where}: {exc.detail}; request id {exc.request_id or 'none'})"
            print(redact(detail), file=sys.stderr)
            return EXIT_UPSTREAM
    args.out.mkdir(parents=True, exist_ok=True)
    for image in result.images:
        path = args.out / f"redraw-{image.blob_id[:12]}.{MIME_EXTENSIONS.get(image.mime, 'png')}"
        path.write_bytes(image.data)
        print(path)
    print(
        f"{result.backend} / {result.model}: {len(result.images)} image(s) in {result.latency_s:.1f} s, "
        f"request id {result.request_id or 'none'}",
        file=sys.stderr,
    )
    if result.revised_prompt:
        print(f"revised prompt: {result.revised_prompt}", file=sys.stderr)
    return 0
