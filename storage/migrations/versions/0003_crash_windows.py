"""crash windows: receptions kept until handled, deliveries of drawn pictures, presses taken once

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "status IN ('queued', 'running')"


def upgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("source_turn_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")))
    # Turns finished before this revision were delivered as far as anyone can tell now.
    op.execute("UPDATE turns SET delivered_at = finished_at WHERE status = 'done'")
    op.create_index(
        "uq_turns_one_press",
        "turns",
        ["source_turn_id", "action", "user_id"],
        unique=True,
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("instance_id", sa.String(length=96), nullable=True))
        batch_op.add_column(sa.Column("handled", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("handled")
        batch_op.drop_column("instance_id")
        batch_op.drop_column("payload")
        batch_op.drop_column("message_id")
        batch_op.drop_column("chat_id")
    op.drop_index("uq_turns_one_press", table_name="turns")
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_column("source_turn_id")
        batch_op.drop_column("delivered_at")
