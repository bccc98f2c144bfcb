"""What an operator sets for the engine: the backends' models, limits, budgets, access,
timings of statuses and of the instance lease."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.images.pricing import PriceTable


@dataclass
class Limits:
    per_user: int = 2
    per_chat: int = 4
    global_: int = 64


@dataclass
class Budgets:
    """USD; None means no budget."""

    user_daily: float | None = None
    chat_monthly: float | None = None


@dataclass
class Access:
    """Who may use the bot. Empty allowlists let everyone in."""

    allowed_users: set[str] = field(default_factory=set)
    allowed_chats: set[str] = field(default_factory=set)
    admins: set[str] = field(default_factory=set)


def new_instance_id() -> str:
    """Unique per process, readable in the database: host, pid and a random tail."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class EngineOptions:
    default_backend: str = "responses"
    # The image model each backend uses.
    models: Mapping[str, str] = field(default_factory=lambda: {"responses": "gpt-image-2"})
    limits: Limits = field(default_factory=Limits)
    budgets: Budgets = field(default_factory=Budgets)
    access: Access = field(default_factory=Access)
    prices: PriceTable = field(default_factory=PriceTable)
    # A picture that takes longer than this gets a status message (in line, drawing, previews);
    # a quicker one costs the chat one message, itself.
    status_after_s: float = 2.0
    progress_every_s: float = 5.0
    # A picture that took longer than this arrives as a new message, which notifies the
    # user; a quicker one takes its status message's place (an edit, which does not).
    notify_after_s: float = 30.0
    variations: int = 3
    # The web pages are served (REDRAW_PUBLIC_URL): a versions sheet offers 🌳 All versions.
    pages: bool = False
    # This process among the instances sharing the database.
    instance_id: str = field(default_factory=new_instance_id)
    # An instance silent this long is gone: its unfinished turns are interrupted (with Retry).
    lease_s: float = 90.0
    heartbeat_s: float = 15.0
    # A turn waiting for a slot another instance holds looks again this often.
    slot_poll_s: float = 1.0
    # Updates already taken are remembered this long (Telegram redelivers for up to a day).
    deliveries_kept_s: float = 2 * 24 * 3600.0
    # Pictures drawn but never sent (a crash between the charge and the photo) are sent on
    # recovery when they are at most this old; older ones wait for the user's Retry.
    undelivered_kept_s: float = 24 * 3600.0
