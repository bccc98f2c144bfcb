"""Putting the engine together from the settings: ``build_engine`` is the one way, for
``redraw run`` (bot.app.runtime) and the tests."""

from __future__ import annotations

from typing import Any

from bot.app.config import Settings
from bot.app.plugins import OpenStore, load_storage
from bot.backends import ChatBackend, ImageBackend, ImagesBackend, ResponsesBackend, UpstreamClient
from bot.blobs import BlobStore
from bot.engine.entry import Engine
from bot.engine.options import Access, Budgets, EngineOptions, Limits
from bot.engine.store import Store
from bot.images.pricing import PriceTable

BACKENDS = ("responses", "images", "chat")


def build_backends(settings: Settings, client: UpstreamClient, blobs: BlobStore) -> dict[str, ImageBackend]:
    """All three backends, each with its model and the fallback chain; chats pick one in /settings."""

    def chain(backend: str) -> list[str]:
        first = settings.model_for(backend)
        fallbacks = settings.redraw_fallback_models if backend != "chat" else []
        return [first, *(model for model in fallbacks if model != first)]

    partials = settings.redraw_partial_images
    return {
        "responses": ResponsesBackend(
            client,
            blobs,
            chain("responses"),
            mainline_model=settings.redraw_responses_model,
            partial_images=partials,
        ),
        "images": ImagesBackend(client, blobs, chain("images"), partial_images=partials),
        "chat": ChatBackend(client, blobs, chain("chat")),
    }


def chat_backends(settings: Settings, client: UpstreamClient, blobs: BlobStore) -> dict[str, ImageBackend]:
    """The backends chats may use and pick in /settings: those the operator enabled
    (``Settings.enabled_backends``). ``redraw draw`` may still try any of the three."""
    built = build_backends(settings, client, blobs)
    return {name: built[name] for name in settings.enabled_backends}


def engine_options(settings: Settings) -> EngineOptions:
    return EngineOptions(
        default_backend=settings.redraw_backend,
        models={backend: settings.model_for(backend) for backend in BACKENDS},
        limits=Limits(
            per_user=settings.redraw_limit_per_user,
            per_chat=settings.redraw_limit_per_chat,
            global_=settings.redraw_limit_global,
        ),
        budgets=Budgets(
            user_daily=settings.redraw_budget_user_daily_usd,
            chat_monthly=settings.redraw_budget_chat_monthly_usd,
        ),
        access=Access(
            allowed_users=set(settings.redraw_allowed_users),
            allowed_chats=set(settings.redraw_allowed_chats),
            admins=set(settings.redraw_admins),
        ),
        prices=PriceTable.from_json(settings.redraw_prices),
        lease_s=settings.redraw_instance_lease_s,
        heartbeat_s=settings.redraw_instance_lease_s / 6,
        pages=settings.redraw_public_url is not None,
    )


async def open_storage(settings: Settings) -> tuple[OpenStore, BlobStore]:
    """The store and the blobs, through the storage plugin. Raises DatabaseUnusable (one
    line: what to run or fix) before anything else starts."""
    return await load_storage().open(
        settings.database_url, settings.redraw_data_dir, settings.redraw_blob_retention_days
    )


def build_engine(
    settings: Settings,
    store: Store,
    blobs: BlobStore,
    client: UpstreamClient,
    options: EngineOptions | None = None,
) -> Engine:
    """The engine: the backends chats may use, and ``options`` (from the settings unless given)."""
    if options is None:
        options = engine_options(settings)
    return Engine(store, blobs, chat_backends(settings, client, blobs), options)


def upstream_client(settings: Settings, **overrides: Any) -> UpstreamClient:
    """The provider's client as the settings describe it (``overrides``: tests, the CLI)."""
    options: dict[str, Any] = {
        "base_url": settings.openai_base_url,
        "api_key": settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        "connect_timeout": settings.redraw_connect_timeout,
        "read_timeout": settings.redraw_read_timeout,
        "retry_attempts": settings.redraw_retry_attempts,
        "retry_max_seconds": settings.redraw_retry_max_seconds,
        "max_download_bytes": settings.redraw_max_download_mb * 1024 * 1024,
        "link_timeout": settings.redraw_link_timeout,
        "fetch_private_links": settings.redraw_fetch_private_links,
    }
    options.update(overrides)
    return UpstreamClient(**options)
