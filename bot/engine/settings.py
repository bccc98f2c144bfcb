"""A chat's settings (backend, size, quality, format): the view to pick from, a pick, and
``/settings name value``. Admins only in groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot.backends.base import ImageBackend
from bot.engine.access import Gate
from bot.engine.language import effective
from bot.engine.options import EngineOptions
from bot.engine.pictures import short
from bot.engine.records import ChatState
from bot.engine.seams import (
    ChatKind,
    Inbound,
    SettingGroup,
    SettingOption,
    SettingOutcome,
    SettingPick,
    SettingsView,
)
from bot.engine.store import Store
from bot.errors import InputError
from bot.images.catalogue import image_model, size_label
from bot.images.validation import OUTPUT_FORMATS, QUALITIES, check_quality, check_size
from bot.messages import render, render_error, render_worded

SETTING_NAMES = ("backend", "size", "quality", "format")

# What a refusal quotes of the user's input: enough to recognise it, never a wall of text.
ECHO_CHARS = 40


class ChatSettings:
    def __init__(
        self, store: Store, backends: Mapping[str, ImageBackend], options: EngineOptions, gate: Gate
    ) -> None:
        self.store = store
        self.backends = backends
        self.options = options
        self.gate = gate

    # --- what a turn is drawn with ------------------------------------------------

    def backend_for(self, chat: ChatState) -> str:
        wanted = chat.settings.get("backend")
        return wanted if isinstance(wanted, str) and wanted in self.backends else self.options.default_backend

    @staticmethod
    def params(chat: ChatState) -> dict[str, Any]:
        settings = chat.settings
        return {
            "size": settings.get("size", "auto"),
            "quality": settings.get("quality", "auto"),
            "output_format": settings.get("format", "png"),
        }

    def request_params(self, chat: ChatState, backend: str, overrides: Mapping[str, str]) -> dict[str, Any]:
        """The chat's settings with this request's own size and quality, checked before anything is stored."""
        params = self.params(chat)
        if "size" in overrides:
            params["size"] = check_size(overrides["size"], image_model(self.options.models[backend]))
        if "quality" in overrides:
            params["quality"] = check_quality(overrides["quality"].lower())
        return params

    # --- showing and changing them --------------------------------------------------

    async def view(self, chat: tuple[str, str], locale: str | None) -> SettingsView:
        """The chat's settings and the values on offer, for a keyboard or select menus."""
        return self._view(await self.store.chat_state(*chat), locale)

    def _view(self, chat: ChatState, locale: str | None) -> SettingsView:
        current = self._current(chat)
        model = image_model(self.options.models[current["backend"]])
        offered: dict[str, Sequence[SettingOption]] = {
            "backend": [SettingOption(name, name) for name in sorted(self.backends)],
            "size": [SettingOption(size, size_label(size)) for size in model.sizes],
            "quality": [SettingOption(value, value) for value in QUALITIES],
            "format": [SettingOption(value, value) for value in OUTPUT_FORMATS],
        }
        groups = tuple(
            SettingGroup(name, render(f"setting_{name}", locale), current[name], tuple(options))
            for name, options in offered.items()
        )
        return SettingsView(render("settings_pick", locale, summary=self._summary(chat)), groups)

    async def pick(self, pick: SettingPick) -> SettingOutcome:
        """A value picked on a settings view (admins only in groups)."""
        platform, chat_id = pick.message.platform, pick.message.chat_id
        user = await self.store.user(platform, pick.user_id)
        pick = replace(pick, locale=effective(user, pick.locale))  # /language overrides
        if not self.gate.permits(platform, pick.user_id, chat_id, user):
            return SettingOutcome(render("not_allowed", pick.locale), refused=True)
        if not await self._may_change(platform, pick.user_id, pick.chat_kind, pick.chat_admin):
            return SettingOutcome(
                render_worded("settings_admin_only", pick.wording, pick.locale), refused=True
            )
        chat = await self.store.chat_state(platform, chat_id)
        if self._current(chat).get(pick.name) == pick.value:
            return SettingOutcome(render("settings_unchanged", pick.locale))
        saved, refusal = await self._change(chat, pick.name, pick.value, pick.locale)
        if saved is None:
            return SettingOutcome(refusal, refused=True)
        view = self._view(saved, pick.locale)
        return SettingOutcome(render("settings_saved", pick.locale, summary=self._summary(saved)), view)

    async def command(self, inbound: Inbound) -> str:
        """``/settings size 1536x1024`` changes one setting (admins only in groups)."""
        if not await self._may_change(
            inbound.key.platform, inbound.user_id, inbound.chat_kind, inbound.chat_admin
        ):
            return render_worded("settings_admin_only", inbound.wording, inbound.locale)
        words = inbound.text.split()
        name, value = words[0].lower(), " ".join(words[1:]).strip().lower()
        chat = await self.store.chat_state(*inbound.chat)
        saved, refusal = await self._change(chat, name, value, inbound.locale)
        if saved is None:
            return refusal
        return render("settings_saved", inbound.locale, summary=self._summary(saved))

    async def _may_change(self, platform: str, user_id: str, chat_kind: ChatKind, chat_admin: bool) -> bool:
        return chat_kind is ChatKind.PRIVATE or chat_admin or await self.gate.bot_admin(platform, user_id)

    def _current(self, chat: ChatState) -> dict[str, str]:
        """The value in force for each of SETTING_NAMES, defaults included."""
        params = self.params(chat)
        return {
            "backend": self.backend_for(chat),
            "size": params["size"],
            "quality": params["quality"],
            "format": params["output_format"],
        }

    async def _change(
        self, chat: ChatState, name: str, value: str, locale: str | None
    ) -> tuple[ChatState | None, str]:
        """Validate and save one setting: the new chat state, or None and why not."""
        if name not in SETTING_NAMES:
            shown = short(name, ECHO_CHARS)
            return None, render("settings_unknown", locale, name=shown, names=", ".join(SETTING_NAMES))
        allowed: Sequence[str]
        if name == "backend":
            allowed = sorted(self.backends)
        elif name == "quality":
            allowed = QUALITIES
        elif name == "format":
            allowed = OUTPUT_FORMATS
        else:
            model = image_model(self.options.models[self.backend_for(chat)])
            try:
                value = check_size(value or "auto", model)
            except InputError as error:
                return None, render_error(error, locale)
            allowed = [value]
        if value not in allowed:
            shown = short(value, ECHO_CHARS)
            return None, render("settings_value", locale, name=name, value=shown, allowed=", ".join(allowed))
        settings = {**chat.settings, name: value}
        return await self.store.update_chat(chat.platform, chat.chat_id, settings=settings), ""

    def _summary(self, chat: ChatState) -> str:
        params = self.params(chat)
        backend = self.backend_for(chat)
        return (
            f"backend {backend} ({self.options.models[backend]}), size {params['size']}, "
            f"quality {params['quality']}, format {params['output_format']}"
        )
