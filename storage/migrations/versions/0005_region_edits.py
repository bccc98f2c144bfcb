"""region edits: a turn's mask (a blob id, kept for Retry), and a grid message's owner and chosen cells

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mask_blob", sa.String(length=64), nullable=True))
    with op.batch_alter_table("message_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("cells", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message_keys", schema=None) as batch_op:
        batch_op.drop_column("cells")
        batch_op.drop_column("user_id")
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_column("mask_blob")
