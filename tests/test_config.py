"""Settings: every variable, validated with messages that name it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app.config import ConfigError, load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert settings.redraw_backend == "responses"
    assert settings.image_model == "gpt-image-2"
    assert settings.redraw_responses_model == "gpt-5"
    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.redraw_read_timeout == 600 and settings.redraw_connect_timeout == 10
    assert settings.redraw_data_dir == Path("data")
    assert settings.database_url == "sqlite+aiosqlite:///data/redraw.db"
    assert settings.platforms == [] and settings.warnings == []


def test_chat_backend_defaults_to_the_proxy_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDRAW_BACKEND", "chat")
    assert load_settings().image_model == "gpt-image-2-all"
    monkeypatch.setenv("REDRAW_IMAGE_MODEL", "gpt-image-2-vip")
    assert load_settings().image_model == "gpt-image-2-vip"


def test_every_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
        "TELEGRAM_API_FILE_URL": "http://127.0.0.1:8081/file/bot",
        "DISCORD_BOT_TOKEN": "discord-token",
        "DISCORD_API_BASE_URL": "http://127.0.0.1:8082/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:8083",
        "OPENAI_API_KEY": "sk-live",
        "OPENAI_BASE_URL": "https://proxy.example.com/v1/",
        "REDRAW_BACKEND": "images",
        "REDRAW_IMAGE_MODEL": "gpt-image-2",
        "REDRAW_RESPONSES_MODEL": "gpt-5-mini",
        "REDRAW_DATABASE_URL": "postgresql+asyncpg://127.0.0.1/test",
        "REDRAW_DATA_DIR": "/var/lib/redraw",
        "REDRAW_FALLBACK_MODELS": "gpt-image-1.5, gpt-image-1",
        "REDRAW_READ_TIMEOUT": "360",
        "REDRAW_CONNECT_TIMEOUT": "5",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (
        settings.telegram_bot_token is not None
        and settings.telegram_bot_token.get_secret_value() == "123:abc"
    )
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"
    assert settings.telegram_api_file_url == "http://127.0.0.1:8081/file/bot"
    assert settings.discord_api_base_url == "http://127.0.0.1:8082/api/v10"
    assert settings.discord_gateway_url == "ws://127.0.0.1:8083"
    assert settings.openai_base_url == "https://proxy.example.com/v1"
    assert settings.redraw_backend == "images" and settings.redraw_responses_model == "gpt-5-mini"
    assert settings.database_url == "postgresql+asyncpg://127.0.0.1/test"
    assert settings.redraw_data_dir == Path("/var/lib/redraw")
    assert settings.image_models == ["gpt-image-2", "gpt-image-1.5", "gpt-image-1"]
    assert settings.redraw_read_timeout == 360 and settings.redraw_connect_timeout == 5
    assert settings.platforms == ["telegram", "discord"]
    assert "sk-live" not in repr(settings) and "123:abc" not in repr(settings)


def test_dotenv_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("REDRAW_BACKEND=chat\nOPENAI_API_KEY=sk-from-file\n")
    settings = load_settings()
    assert settings.redraw_backend == "chat"
    assert (
        settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == "sk-from-file"
    )


def test_bad_backend_names_the_variable_and_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDRAW_BACKEND", "foo")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "REDRAW_BACKEND must be one of responses, chat, images" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDRAW_READ_TIMEOUT", "soon"),
        ("REDRAW_READ_TIMEOUT", "0"),
        ("REDRAW_RETRY_ATTEMPTS", "0"),
        ("REDRAW_PARTIAL_IMAGES", "4"),
        ("OPENAI_BASE_URL", "ftp://files.example.com"),
        ("OPENAI_BASE_URL", "api.openai.com/v1"),
    ],
)
def test_bad_values_name_their_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(name)


def test_several_errors_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDRAW_BACKEND", "foo")
    monkeypatch.setenv("REDRAW_CONNECT_TIMEOUT", "-1")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()
    assert {line.split()[0].rstrip(":") for line in lines} == {"REDRAW_BACKEND", "REDRAW_CONNECT_TIMEOUT"}


def test_base_url_without_v1_is_corrected_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example.com/")
    with caplog.at_level(logging.WARNING):
        settings = load_settings()
    assert settings.openai_base_url == "https://proxy.example.com/v1"
    assert "OPENAI_BASE_URL" in caplog.text and "https://proxy.example.com/v1" in caplog.text


def test_base_url_with_another_path_is_kept_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example.com/acct/openai")
    settings = load_settings()
    assert settings.openai_base_url == "https://gateway.example.com/acct/openai"
    assert settings.warnings and "does not end in a version" in settings.warnings[0]


def test_versioned_paths_pass_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://ark.example.com/api/v3")
    assert load_settings().warnings == []


def test_platform_ids_are_read_as_the_engine_compares_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDRAW_ALLOWED_USERS", " Telegram:123 , DISCORD:80351110224678912")
    monkeypatch.setenv("REDRAW_ALLOWED_CHATS", "telegram:-1001234567890")
    settings = load_settings()
    assert settings.redraw_allowed_users == ["telegram:123", "discord:80351110224678912"]
    assert settings.redraw_allowed_chats == ["telegram:-1001234567890"]


def test_secrets_never_appear_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("REDRAW_BACKEND", "foo")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "sk-very-secret" not in str(caught.value)
