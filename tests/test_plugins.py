"""The platforms and the store are found through their entry points, and each plugin is
what the core asks for (mypy checks the assignments below against the protocols)."""

from __future__ import annotations

import subprocess
import sys

from adapters.discord_adapter.plugin import plugin as discord_plugin
from adapters.telegram_adapter.plugin import plugin as telegram_plugin
from bot.app.plugins import (
    PlatformPlugin,
    StoragePlugin,
    load_platform,
    load_storage,
    platform_names,
    token_variable,
)
from storage.plugin import plugin as sql_plugin

TELEGRAM: PlatformPlugin = telegram_plugin
DISCORD: PlatformPlugin = discord_plugin
SQL: StoragePlugin = sql_plugin


def test_the_entry_points_name_the_plugins() -> None:
    assert platform_names() == ["telegram", "discord"]
    assert load_platform("telegram") is telegram_plugin
    assert load_platform("discord") is discord_plugin
    assert load_storage() is sql_plugin
    for name in platform_names():
        plugin = load_platform(name)
        assert plugin.name == name and plugin.setting == token_variable(name)


def test_loading_a_platform_plugin_loads_no_platform_library() -> None:
    code = (
        "import sys\n"
        "from bot.app.plugins import load_platform\n"
        "load_platform('telegram'); load_platform('discord')\n"
        "assert 'telegram' not in sys.modules and 'discord' not in sys.modules, sys.modules.keys()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
