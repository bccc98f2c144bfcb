"""The turn a log record belongs to: set in each turn's task by the engine, read by the
log formatters, so every record made while a turn runs carries its id."""

from __future__ import annotations

from contextvars import ContextVar

current_turn: ContextVar[int | None] = ContextVar("redraw_turn_id", default=None)
