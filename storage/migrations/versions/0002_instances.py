"""several instances: the instance lease, slot reservations, deliveries taken

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("instance_id", sa.String(length=96), nullable=True))
        batch_op.add_column(sa.Column("reserved_usd", sa.Float(), server_default="0", nullable=False))
    op.create_table(
        "instances",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "deliveries",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "delivery_id"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_seen_at"))
    op.drop_table("deliveries")
    op.drop_table("instances")
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_column("reserved_usd")
        batch_op.drop_column("instance_id")
