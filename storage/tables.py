"""The models' Core tables, typed as ``Table``: what the repositories query."""

from __future__ import annotations

from sqlalchemy import Table

from storage import orm as models

turns: Table = models.Turn.__table__  # type: ignore[assignment]
inbound_keys: Table = models.InboundKey.__table__  # type: ignore[assignment]
message_keys: Table = models.MessageKey.__table__  # type: ignore[assignment]
chat_settings: Table = models.ChatSettings.__table__  # type: ignore[assignment]
users: Table = models.User.__table__  # type: ignore[assignment]
ledger: Table = models.UsageEntry.__table__  # type: ignore[assignment]
instances: Table = models.Instance.__table__  # type: ignore[assignment]
deliveries: Table = models.Delivery.__table__  # type: ignore[assignment]
