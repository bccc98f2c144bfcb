"""Settings from the environment and ``.env``, validated once at start.

Field names are the environment variable names (lower-cased), so an error can
always name the variable the operator has to fix.
"""

from __future__ import annotations

import logging
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.images.pricing import PriceTable
from bot.telemetry.redaction import shown_url

log = logging.getLogger(__name__)

BackendName = Literal["responses", "chat", "images"]
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_IMAGE_MODEL = "gpt-image-2"
DEFAULT_CHAT_IMAGE_MODEL = "gpt-image-2-all"
# Hosts where REDRAW_PUBLIC_URL may be plain http (trying the pages on this machine).
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_VERSIONED_PATH = re.compile(r"/v\d+[a-z0-9]*$")
# The async driver each supported database needs (storage runs on SQLAlchemy's asyncio).
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
_DIALECT_ALIASES = {"postgres": "postgresql", "pgsql": "postgresql", "sqlite3": "sqlite"}
DATABASE_EXAMPLES = (
    "sqlite+aiosqlite:///data/redraw.db or postgresql+asyncpg://user:password@host:5432/redraw"
)
# Ids as each platform writes them: Telegram users are positive numbers and its group
# chats negative ones; Discord users and channels are snowflakes (positive, ≤ 20 digits).
_PLATFORM_IDS = {
    ("telegram", "user"): re.compile(r"[1-9]\d{0,15}"),
    ("telegram", "chat"): re.compile(r"-?[1-9]\d{0,15}"),
    ("discord", "user"): re.compile(r"[1-9]\d{0,19}"),
    ("discord", "chat"): re.compile(r"[1-9]\d{0,19}"),
}
_ID_EXAMPLES = {
    "user": "telegram:<numeric user id> or discord:<user id>, e.g. telegram:123456789",
    "chat": "telegram:<chat id> (groups are negative, e.g. telegram:-1001234567890) or discord:<channel id>",
}


class ConfigError(Exception):
    """Invalid configuration; the message names each variable and what it accepts."""


# Each platform's token setting (its variable, upper-cased), in the order Redraw lists them.
# A set token enables the platform: bot.app.plugins loads its plugin then, and only then.
PLATFORM_TOKENS = {"telegram": "telegram_bot_token", "discord": "discord_bot_token"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # NaN passes every comparison's negation and infinity every limit: neither is a setting.
        allow_inf_nan=False,
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str | None = None
    telegram_api_file_url: str | None = None
    # A chat where the bot may post (a private channel of the operator's) to turn a picture
    # into a file id, which an inline message needs; unset: the user's private chat with the bot.
    redraw_telegram_file_chat: int | None = None
    discord_bot_token: SecretStr | None = None
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    # The privileged message-content intent (mentions, replies, uploads in guild channels).
    # Off: slash commands only, for bots whose intent is not enabled in the Developer Portal.
    discord_message_content: bool = True

    openai_api_key: SecretStr | None = None
    # Not in repr: a proxy URL may carry a login or a key.
    openai_base_url: str = Field(default=DEFAULT_OPENAI_BASE_URL, repr=False)

    redraw_backend: BackendName = "responses"
    # The backends chats may pick in /settings (unset: see enabled_backends).
    redraw_backends: Annotated[list[BackendName], NoDecode] = Field(default_factory=list)
    # None means "the default for the backend" (see image_model).
    redraw_image_model: str | None = None
    redraw_responses_model: str = "gpt-5"
    # Tried in order when the image model is missing or unavailable (never on a moderation block).
    redraw_fallback_models: Annotated[list[str], NoDecode] = Field(default_factory=list)

    redraw_data_dir: Path = Path("./data")
    # Not in repr: it carries the database password.
    redraw_database_url: str | None = Field(default=None, repr=False)

    redraw_connect_timeout: float = Field(default=10.0, gt=0)
    # High quality at 2K/4K takes minutes: never the usual 60 s.
    redraw_read_timeout: float = Field(default=600.0, gt=0)
    redraw_retry_attempts: int = Field(default=3, ge=1, le=10)
    redraw_retry_max_seconds: float = Field(default=120.0, ge=0)
    # Partial previews while streaming (0 turns streaming off; proxies often lack it).
    redraw_partial_images: int = Field(default=2, ge=0, le=3)
    redraw_max_download_mb: int = Field(default=50, ge=1, le=500)
    # All the time one image link may take, redirects and retries included.
    redraw_link_timeout: float = Field(default=120.0, gt=0)
    # Image links in an answer may point at private (RFC 1918, CGNAT, ULA) and loopback
    # addresses: for a self-hosted proxy whose file server is on the private network.
    # Link-local and cloud metadata addresses stay refused.
    redraw_fetch_private_links: bool = False

    # Limits on turns in flight, and spending budgets in USD (unset: no budget).
    redraw_limit_per_user: int = Field(default=2, ge=1)
    redraw_limit_per_chat: int = Field(default=4, ge=1)
    redraw_limit_global: int = Field(default=64, ge=1)
    redraw_budget_user_daily_usd: float | None = Field(default=None, ge=0)
    redraw_budget_chat_monthly_usd: float | None = Field(default=None, ge=0)
    # Price overrides by model, JSON (see bot/images/pricing.py).
    redraw_prices: str | None = None
    # Who may use the bot: "platform:id" lists; empty lets everyone in.
    redraw_allowed_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redraw_allowed_chats: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redraw_admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Images older than this (not reused) are deleted from the blob store; 0 keeps them.
    redraw_blob_retention_days: float = Field(default=90, ge=0)

    # Telegram webhook mode (unset: long polling). The URL Telegram POSTs to; the
    # secret defaults to one derived from the bot token, the same on every instance.
    redraw_webhook_url: str | None = None
    redraw_webhook_secret: SecretStr | None = None
    # Where the webhook server listens: all interfaces, so a load balancer can reach it.
    redraw_webhook_listen: str = "0.0.0.0"
    redraw_webhook_port: int = Field(default=8080, ge=1, le=65535)
    # On SIGTERM, turns in flight get this long to finish before they are interrupted (with Retry).
    redraw_shutdown_grace_s: float = Field(default=30.0, ge=0)
    # Several instances on one database: one silent this long is taken for dead, and
    # its unfinished turns are interrupted (with Retry) by another. It beats 6 times a lease.
    redraw_instance_lease_s: float = Field(default=90.0, gt=0)

    # Log lines as text, or one JSON object per line for a log collector.
    redraw_log_format: Literal["text", "json"] = "text"
    # The Prometheus endpoint (/metrics) and health check (/healthz); unset: none.
    redraw_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    redraw_metrics_listen: str = "0.0.0.0"

    # The web pages (mask painter, versions): their public URL (unset: no pages), the port
    # the bot's own server listens on (TLS goes in front), and the key that signs their
    # links (unset: derived from the platform tokens, the same on every instance).
    redraw_public_url: str | None = None
    redraw_web_port: int = Field(default=8090, ge=1, le=65535)
    redraw_web_listen: str = "0.0.0.0"
    redraw_web_secret: SecretStr | None = None

    # Not settings: notes for the operator gathered while validating.
    warnings: list[str] = Field(default_factory=list, exclude=True)

    @field_validator(
        "redraw_fallback_models",
        "redraw_backends",
        "redraw_allowed_users",
        "redraw_allowed_chats",
        "redraw_admins",
        mode="before",
    )
    @classmethod
    def _split_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "telegram_bot_token",
        "discord_bot_token",
        "openai_api_key",
        "telegram_api_base_url",
        "telegram_api_file_url",
        "redraw_telegram_file_chat",
        "discord_api_base_url",
        "discord_gateway_url",
        "redraw_image_model",
        "redraw_database_url",
        "redraw_prices",
        "redraw_budget_user_daily_usd",
        "redraw_budget_chat_monthly_usd",
        "redraw_webhook_url",
        "redraw_webhook_secret",
        "redraw_metrics_port",
        "redraw_public_url",
        "redraw_web_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("redraw_allowed_users", "redraw_admins", "redraw_allowed_chats")
    @classmethod
    def _platform_ids(cls, value: list[str], info: ValidationInfo) -> list[str]:
        kind = "chat" if info.field_name == "redraw_allowed_chats" else "user"
        checked, bad = [], []
        for entry in value:
            platform, colon, ident = entry.partition(":")
            platform = platform.strip().lower()
            rule = _PLATFORM_IDS.get((platform, kind))
            if not colon or rule is None or not rule.fullmatch(ident.strip()):
                bad.append(entry)
            else:
                checked.append(f"{platform}:{ident.strip()}")
        if bad:
            listed = ", ".join(repr(entry) for entry in bad)
            verb = "is" if len(bad) == 1 else "are"
            raise ValueError(f"{listed} {verb} not platform:id; write {_ID_EXAMPLES[kind]}")
        return checked

    @field_validator("redraw_database_url")
    @classmethod
    def _database_shape(cls, value: str | None) -> str | None:
        if value is not None:
            check_database_url(value)
        return value

    @field_validator("redraw_backends")
    @classmethod
    def _backends_hold_the_default(cls, value: list[str], info: ValidationInfo) -> list[str]:
        default = info.data.get("redraw_backend")
        if value and default is not None and default not in value:
            raise ValueError(f"must include REDRAW_BACKEND ({default}), the backend chats start on")
        return list(dict.fromkeys(value))

    @field_validator("redraw_webhook_url")
    @classmethod
    def _webhook_shape(cls, value: str | None) -> str | None:
        # http is only for a local Bot API server (or a test); Telegram itself POSTs to https only.
        if value is not None and (
            urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc
        ):
            raise ValueError("must be the public https:// URL Telegram sends updates to")
        return value

    @field_validator("redraw_public_url")
    @classmethod
    def _public_url_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be the pages' public URL, such as https://redraw.example.com")
        # Telegram opens Mini Apps over https only; plain http is for trying it on this machine.
        if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
            raise ValueError("must be https:// (http only for localhost or 127.0.0.1)")
        if parts.query or parts.fragment:
            raise ValueError("may not carry a query or fragment; give the pages' base URL")
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    @field_validator("redraw_web_secret")
    @classmethod
    def _web_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. the output of openssl rand -hex 32)")
        return value

    @field_validator("redraw_webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("may hold only A-Z, a-z, 0-9, _ and - (1-256 characters)")
        return value

    @field_validator("openai_base_url", mode="before")
    @classmethod
    def _url_shape(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = value.strip() or DEFAULT_OPENAI_BASE_URL
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("must be an http(s) URL such as https://api.openai.com/v1")
            if (parts.username or parts.password) and info.data.get("openai_api_key") is not None:
                # Both can't go: a login in the URL is sent as Basic auth, in place of the key.
                raise ValueError(
                    "carries a login (user:password@) and OPENAI_API_KEY is set; the provider"
                    " would get the login instead of the key. Drop the login from the URL, or"
                    " unset OPENAI_API_KEY for a proxy that takes only the login"
                )
        return value

    @model_validator(mode="after")
    def _fix_base_url(self) -> Settings:
        parts = urlsplit(self.openai_base_url)
        path = parts.path.rstrip("/")
        if not path:
            # The most common proxy mistake: the host without /v1.
            fixed = urlunsplit((parts.scheme, parts.netloc, "/v1", parts.query, ""))
            self.warnings.append(
                f"OPENAI_BASE_URL has no /v1 path; using {shown_url(fixed, hide_user=True)}. "
                "Set it to that to silence this warning."
            )
            self.openai_base_url = fixed
        else:
            self.openai_base_url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
            if not _VERSIONED_PATH.search(path):
                self.warnings.append(
                    f"OPENAI_BASE_URL path {path} does not end in a version such as /v1; "
                    "using it as given. Most OpenAI-compatible proxies want …/v1."
                )
        return self

    @field_validator("redraw_prices")
    @classmethod
    def _prices_parse(cls, value: str | None) -> str | None:
        PriceTable.from_json(value)  # a PriceError (a ValueError) says which model and field
        return value

    @property
    def image_model(self) -> str:
        if self.redraw_image_model:
            return self.redraw_image_model
        return DEFAULT_CHAT_IMAGE_MODEL if self.redraw_backend == "chat" else DEFAULT_IMAGE_MODEL

    def model_for(self, backend: str) -> str:
        """The image model a backend uses (chats may switch backends in /settings)."""
        if backend == self.redraw_backend:
            return self.image_model
        if backend == "chat":
            return DEFAULT_CHAT_IMAGE_MODEL
        if self.redraw_image_model and self.redraw_backend != "chat":
            return self.redraw_image_model
        return DEFAULT_IMAGE_MODEL

    @property
    def enabled_backends(self) -> list[str]:
        """The backends chats may use: REDRAW_BACKENDS; unset, those known to work with the
        provider: OpenAI's own API serves responses and images (chat's models live on proxies
        only), and of a proxy only REDRAW_BACKEND is known to work."""
        if self.redraw_backends:
            return list(self.redraw_backends)
        if self.openai_base_url == DEFAULT_OPENAI_BASE_URL:
            return list(dict.fromkeys([self.redraw_backend, "responses", "images"]))
        return [self.redraw_backend]

    @property
    def database_url(self) -> str:
        if self.redraw_database_url:
            return self.redraw_database_url
        return f"sqlite+aiosqlite:///{(self.redraw_data_dir / 'redraw.db').as_posix()}"

    @property
    def image_models(self) -> list[str]:
        """The image model and its fallbacks, in the order they are tried."""
        chain = [self.image_model]
        chain += [model for model in self.redraw_fallback_models if model not in chain]
        return chain

    @property
    def provider_missing(self) -> str | None:
        """What to set when no provider is configured: a key, or a proxy of the operator's own
        (which may need none)."""
        if self.openai_api_key is None and self.openai_base_url == DEFAULT_OPENAI_BASE_URL:
            return "set OPENAI_API_KEY (or OPENAI_BASE_URL for a proxy that needs no key)"
        return None

    @property
    def platforms(self) -> list[str]:
        """The platforms whose token is set, in PLATFORM_TOKENS' order."""
        return [name for name, field in PLATFORM_TOKENS.items() if getattr(self, field)]


def check_database_url(url: str) -> None:
    """Raise ValueError unless ``url`` is a SQLite or PostgreSQL URL with its async driver;
    the message suggests the fixed URL (password hidden)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise ValueError(f"is not a database URL; use {DATABASE_EXAMPLES}")
    dialect, _, driver = scheme.lower().partition("+")
    dialect = _DIALECT_ALIASES.get(dialect, dialect)
    wanted = ASYNC_DRIVERS.get(dialect)
    if wanted is None:
        raise ValueError(
            f"{scheme}:// is not supported; Redraw runs on SQLite or PostgreSQL: {DATABASE_EXAMPLES}"
        )
    if driver != wanted:
        fixed = shown_url(f"{dialect}+{wanted}://{rest}")
        raise ValueError(f"needs the async driver {wanted}: use {fixed}")
    if dialect == "sqlite" and rest and not rest.startswith("/"):
        raise ValueError(
            f"a SQLite URL has three slashes before a relative path: use sqlite+aiosqlite:///{rest}"
        )
    try:
        urlsplit(url).port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ValueError(f"has a port that is not a number; use {DATABASE_EXAMPLES}") from None


_SECRET_FIELDS = {
    "telegram_bot_token",
    "discord_bot_token",
    "openai_api_key",
    "redraw_webhook_secret",
    "redraw_web_secret",
}


def _shown_input(field: str, value: Any) -> str:
    if field in _SECRET_FIELDS:
        return "(hidden)"
    if field.endswith("_url") and isinstance(value, str):
        return repr(shown_url(value, hide_user=field == "openai_base_url"))
    return repr(value)


def _describe(error: dict[str, Any]) -> str:
    field = str(error["loc"][0]) if error.get("loc") else "configuration"
    variable = field.upper()
    given = _shown_input(field, error.get("input"))
    annotation = Settings.model_fields[field].annotation if field in Settings.model_fields else None
    choices = [arg for arg in typing.get_args(annotation) if isinstance(arg, str)]
    if error["type"] == "literal_error" and choices:
        return f"{variable} must be one of {', '.join(choices)} (got {given})"
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    # A message that quotes the bad part already (a price inside a JSON document) is enough.
    return f"{variable}: {message}" if "(got " in message else f"{variable}: {message} (got {given})"


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise ConfigError naming every bad variable."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(dict(error)) for error in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    for warning in settings.warnings:
        log.warning("%s", warning)
    return settings
